/** Composition root: builds concrete backends, the worker pool and the instance (home, catalog, secrets), and opens repositories for the edges. */
import { Repository, CodecPool, type InitOptions } from '../repo/index.js';
import { backendFor, setStorageLog, type BackendCredentials } from './backends.js';

export { backendFor, setStorageLog, type BackendCredentials };
export { tuneProcess } from './process.js';
export { instanceHome, openInstance, describePasswordRef, type Instance } from './instance.js';

export async function openRepository(location: string, password: string, opts: { loadIndex?: boolean; credentials?: BackendCredentials } = {}): Promise<Repository> {
  const repo = await Repository.open(backendFor(location, opts.credentials), password);
  if (opts.loadIndex ?? true) await repo.loadIndex();
  return repo;
}

export async function initRepository(location: string, password: string, opts: InitOptions & { credentials?: BackendCredentials } = {}): Promise<Repository> {
  return Repository.init(backendFor(location, opts.credentials), password, opts);
}

export function codecPool(repo: Repository): CodecPool {
  return new CodecPool(repo.master, repo.config);
}

export const VERSION = '0.1.0';
export { instanceRestorer, loadSpecs } from './instance-state.js';
export type { InstanceExport } from './instance.js';
export { downloadSnapshot, uploadArchive } from './archive.js';
