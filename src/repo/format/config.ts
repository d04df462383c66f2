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

/**
 * Why a config cannot be used (undefined when it is sane). A repository is untrusted input, and
 * its config steers this machine: the id names a folder of the local cache, the chunker's
 * maximum sizes buffers, the pack size what a writer holds, the level what zstd spends. What
 * `repo init` can make is accepted; anything else is refused before it is used.
 */
export function configProblem(c: unknown): string | undefined {
  const o = c as Partial<RepoConfig> | null;
  if (!o || typeof o !== 'object') return 'the config is not an object';
  if (o.version !== FORMAT_VERSION) return `format version ${String(o.version).slice(0, 20)} is not supported by this Strongbox; upgrade Strongbox`;
  if (typeof o.id !== 'string' || !/^[0-9a-f]{64}$/.test(o.id)) return 'its id is not 64 hex digits';
  if (typeof o.gearSeed !== 'string' || !/^[0-9a-f]{64}$/.test(o.gearSeed)) return 'its gear seed is not 64 hex digits';
  const k = o.chunker;
  const size = (n: unknown): n is number => Number.isInteger(n) && (n as number) >= 64 && (n as number) <= CONFIG_BOUNDS.maxChunk;
  if (!k || !size(k.min) || !size(k.avg) || !size(k.max) || !(k.min <= k.avg && k.avg <= k.max)) return `its chunker sizes are not 64 B ≤ min ≤ avg ≤ max ≤ ${CONFIG_BOUNDS.maxChunk >> 20} MiB`;
  const z = o.compression;
  if (!z || z.algorithm !== 'zstd' || !Number.isInteger(z.level) || z.level < 1 || z.level > 19) return 'its compression is not zstd at a level of 1…19';
  if (!Number.isInteger(o.packSize) || o.packSize! < 1 << 16 || o.packSize! > CONFIG_BOUNDS.maxPack) return `its pack size is not 64 KiB…${CONFIG_BOUNDS.maxPack >> 20} MiB`;
  return undefined;
}

/** The largest chunk and pack a config may ask for (`repo init` allows packs of up to 1 GiB). */
export const CONFIG_BOUNDS = { maxChunk: 64 * 1024 * 1024, maxPack: 1024 * 1024 * 1024 };
