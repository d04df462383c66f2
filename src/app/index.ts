/** Composition root: builds concrete backends, the worker pool and the instance (home, catalog, secrets), and opens repositories for the edges. */
import { backendFor, setStorageLog, type BackendCredentials } from './backends.js';

export { backendFor, setStorageLog, type BackendCredentials };
export { tuneProcess } from './process.js';
export { instanceHome, openInstance, describePasswordRef, type Instance } from './instance.js';

export { openRepository, initRepository, cacheHome, codecPool, restoreCodecs } from './open.js';
export { VERSION } from './version.js';
export { instanceRestorer, loadSpecs, recordMappedTargets } from './instance-state.js';
export type { InstanceExport } from './instance.js';
export { downloadSnapshot, uploadArchive } from './archive.js';
