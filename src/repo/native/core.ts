import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { installedFile } from '../../kernel/index.js';

/**
 * The native chunk core (native/core.c, built by `npm install` through node-gyp when
 * libzstd's headers are on the machine): FastCDC, keyed ids, and encode/decode of blobs
 * (zstd + AES-256-GCM) in C, into one output buffer each. The TypeScript implementations
 * stay the reference (fastcdc.ts, format/blob.ts): tests compare the two, and Strongbox
 * runs the same without the addon, slower. `STRONGBOX_NATIVE=0` chooses the reference
 * (benchmarks, comparisons); docs/PERFORMANCE.md has the measurements.
 */
export interface NativeCodec {
  readonly __nativeCodec: unique symbol;
}

export interface NativeCore {
  codec(encKey: Uint8Array, macKey: Uint8Array, level: number, gear: Uint8Array, min: number, avg: number, max: number): NativeCodec;
  cut(codec: NativeCodec, buf: Uint8Array, start: number, end: number): number;
  /** Final chunks of buf[0, filled): lengths into `lens`, ids into `ids`; returns how many. */
  scan(codec: NativeCodec, buf: Uint8Array, filled: number, eof: boolean, ids: Uint8Array, lens: Uint32Array): number;
  id(codec: NativeCodec, data: Uint8Array): Buffer;
  encode(codec: NativeCodec, raw: Uint8Array): Buffer;
  /** Encodes into out[offset…] (room for raw.length + SEAL_OVERHEAD bytes, else it throws) and returns the sealed length. Absent in a core built before it. */
  encodeInto?(codec: NativeCodec, raw: Uint8Array, out: Uint8Array, offset: number): number;
  /** Throws an error with code CORRUPT whose message ends the sentence "<what> …". */
  decode(codec: NativeCodec, sealed: Uint8Array, expectedId: Uint8Array | undefined): Buffer;
  /** Decodes into `out` and returns the raw length, or minus the length `out` must have (nothing written). */
  decodeInto(codec: NativeCodec, sealed: Uint8Array, expectedId: Uint8Array | undefined, out: Uint8Array): number;
  /**
   * Decrypts in `sealed` itself (destroyed); then sealed[12] is the encoding byte: raw, the bytes
   * are sealed[13…13+n) and n is returned; zstd, they are out[0…n) and n is returned, or a new
   * buffer when `out` is too small. Absent in a core built before it.
   */
  decodeInPlace?(codec: NativeCodec, sealed: Uint8Array, expectedId: Uint8Array | undefined, out: Uint8Array): number | Buffer;
  /**
   * lstat of each entry of `dir` (names back to back, ends[i] where name i ends), relative to
   * the open directory, into 13 doubles per entry (listing.ts); returns how many entries it
   * left to JavaScript. Absent in a core built before it.
   */
  lstatAt?(dir: Uint8Array, names: Uint8Array, ends: Uint32Array, meta: Float64Array): number;
  /**
   * Decodes the blobs of a pack range read into `data` (decrypted there: destroyed) and writes
   * each into its target files, on one of libuv's threads; `plan` is encodePlan's
   * (range-writer.ts). The codec is the work's until the promise settles. Absent in a core built
   * before it.
   */
  restoreRange?(codec: NativeCodec, data: Uint8Array, plan: Uint8Array): Promise<({ ok: true; rawLength: number } | { ok: false; message: string })[]>;
  /**
   * Gives the whole pages of buf[from…] back to the kernel: they read as zeros after and cost no
   * memory until written again; returns the bytes given back. Only for a buffer that owns its
   * memory (not a view into a pool). Absent in a core built before it.
   */
  release?(buf: Uint8Array, from: number): number;
  /**
   * The entries of directory `dir` (not . and ..), sorted by their bytes as Buffer.compare
   * sorts them, back to back in `names` with `ends[i]` where name i ends; or minus the errno
   * when the directory cannot be opened or read. Absent in a core built before it.
   */
  readDir?(dir: Uint8Array): [names: Uint8Array, ends: Uint32Array] | number;
  /**
   * tree/scan.ts's scanRun (native/tree-scan.c): scans the nodes of a tree's text from `from`
   * on into the three arrays as nodes k, k + 1, …; returns how many. Absent in a core built
   * before it.
   */
  scanNodes?(data: Uint8Array, from: number, limit: number, strings: Uint32Array, numbers: Float64Array, ranges: Uint32Array, k: number): number;
  readonly zstdVersion: string;
}

let loaded: NativeCore | null | undefined;
let loadError: string | undefined;

/** The native core, or undefined when it is not built or `STRONGBOX_NATIVE=0`. */
export function nativeCore(): NativeCore | undefined {
  if (process.env.STRONGBOX_NATIVE === '0') return undefined;
  if (loaded === undefined) {
    try {
      const require = createRequire(import.meta.url);
      loaded = require(fileURLToPath(installedFile('build/Release/strongbox_core.node'))) as NativeCore;
    } catch (err) {
      loaded = null;
      loadError = err instanceof Error ? err.message : String(err);
    }
  }
  return loaded ?? undefined;
}

/** Why the native core is not in use (for `strongbox version`-style diagnostics and tests). */
export function nativeCoreStatus(): { active: boolean; reason?: string } {
  if (process.env.STRONGBOX_NATIVE === '0') return { active: false, reason: 'STRONGBOX_NATIVE=0' };
  return nativeCore() ? { active: true } : { active: false, reason: loadError ?? 'not built' };
}

/** The native core's tree scanner (tree/scan.ts's scanRun in C), or undefined without it. */
export function nativeScanNodes(): NonNullable<NativeCore['scanNodes']> | undefined {
  return nativeCore()?.scanNodes;
}
