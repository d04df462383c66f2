import { homedir } from 'node:os';
import { join } from 'node:path';
import { Repository, CodecPool, LocalCache, nativeRangeWriter, type BlobDecoder, type BlobWriter, type InitOptions } from '../repo/index.js';
import { backendFor, type BackendCredentials } from './backends.js';

export async function openRepository(location: string, password: string, opts: { loadIndex?: boolean; credentials?: BackendCredentials } = {}): Promise<Repository> {
  const repo = await Repository.open(await backendFor(location, opts.credentials), password);
  attachCache(repo, location);
  if (opts.loadIndex ?? true) await repo.loadIndex();
  return repo;
}

export async function initRepository(location: string, password: string, opts: InitOptions & { credentials?: BackendCredentials } = {}): Promise<Repository> {
  const repo = await Repository.init(await backendFor(location, opts.credentials), password, opts);
  attachCache(repo, location);
  return repo;
}

/** Where caches live: STRONGBOX_CACHE_DIR, $XDG_CACHE_HOME/strongbox or ~/.cache/strongbox. */
export function cacheHome(): string {
  return process.env.STRONGBOX_CACHE_DIR || join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'strongbox');
}

/** Repositories on network stores keep their trees, index files and manifests in a local cache (STRONGBOX_CACHE_DIR=off disables it). */
function attachCache(repo: Repository, location: string): void {
  if (!/^(s3|azure|sftp):\/\//.test(location) || process.env.STRONGBOX_CACHE_DIR === 'off') return;
  repo.cache = new LocalCache(cacheHome(), repo.config.id);
}

/** The pipeline's workers; where packs are written as their blobs arrive, a saver recycles their sealed blobs. */
export function codecPool(repo: Repository): CodecPool {
  return new CodecPool(repo.master, repo.config, undefined, { recycles: repo.streamsPackWrites });
}


/**
 * What a restore decodes and writes with: each pack range's blobs decoded and written into
 * their files by the native core on libuv's threads where it is built, else by the pipeline's
 * workers; single blobs (a dump's stream) decoded on the workers, which start only when the
 * first is asked for — a restore of files starts none. `close` ends what was started.
 */
export function restoreCodecs(repo: Repository): { codecs: BlobDecoder & BlobWriter; close(): Promise<void> } {
  const pool = new CodecPool(repo.master, repo.config, undefined, { lazy: true });
  const native = nativeRangeWriter(repo.master, repo.config);
  const codecs: BlobDecoder & BlobWriter = {
    decode: (sealed, id, what) => pool.decode(sealed, id, what),
    writeRange: (data, items) => (native ?? pool).writeRange(data, items),
  };
  return { codecs, close: () => pool.close() };
}
