import type { ChunkerParams } from '../chunker/fastcdc.js';

/** The repository config object (sealed under the master key). See docs/FORMAT.md. */
export interface RepoConfig {
  version: 1;
  id: string;
  chunker: ChunkerParams;
  gearSeed: string;
  compression: { algorithm: 'zstd'; level: number };
  packSize: number;
}

export const FORMAT_VERSION = 1;
export const DEFAULT_PACK_SIZE = 16 * 1024 * 1024;
