import { createHash } from 'node:crypto';
import { nativeCore, type NativeCore } from '../native/core.js';

/**
 * FastCDC content-defined chunking (Xia et al., 2016/2020) with normalized chunking
 * (level 2). The gear table is derived from a per-repository secret seed so that
 * chunk boundaries do not leak plaintext across repositories.
 */
export interface ChunkerParams {
  min: number;
  avg: number;
  max: number;
}

export const DEFAULT_CHUNKER: ChunkerParams = { min: 512 * 1024, avg: 1024 * 1024, max: 8 * 1024 * 1024 };

export interface Chunker {
  readonly params: ChunkerParams;
  /**
   * Length of the next chunk starting at `start`, looking at most at `end`.
   * Callers must supply at least `max` bytes (`end - start >= max`) unless at end of input.
   */
  cut(buf: Uint8Array, start: number, end: number): number;
}

export function gearTable(seed: Uint8Array): Uint32Array {
  const table = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    const d = createHash('sha256').update(seed).update(Uint8Array.of(i)).digest();
    table[i] = d.readUInt32LE(0);
  }
  return table;
}

/** A mask with `bits` ones in the top bits of a 32-bit word (as a signed int for `|0` arithmetic). */
function topMask(bits: number): number {
  return (~((1 << (32 - bits)) - 1)) | 0;
}

/** The gear table as the native core takes it: 256 little-endian u32. */
export function gearBytes(seed: Uint8Array): Buffer {
  const table = gearTable(seed);
  const out = Buffer.alloc(1024);
  table.forEach((v, i) => out.writeUInt32LE(v, i * 4));
  return out;
}

/**
 * The chunker: the native core's when it is built (several times faster), else the
 * TypeScript reference below. Both give the same cut points (tests compare them).
 */
export function createChunker(params: ChunkerParams, seed: Uint8Array, core: NativeCore | undefined = nativeCore()): Chunker {
  if (!core) return createReferenceChunker(params, seed);
  const { min, avg, max } = params;
  if (!(min > 0 && min <= avg && avg <= max)) throw new Error(`invalid chunker parameters ${JSON.stringify(params)}`);
  const zero = new Uint8Array(32);
  const handle = core.codec(zero, zero, 3, gearBytes(seed), min, avg, max);
  return { params, cut: (buf, start, end) => core.cut(handle, buf, start, end) };
}

/** FastCDC in TypeScript: the reference implementation. */
export function createReferenceChunker(params: ChunkerParams, seed: Uint8Array): Chunker {
  const { min, avg, max } = params;
  if (!(min > 0 && min <= avg && avg <= max)) throw new Error(`invalid chunker parameters ${JSON.stringify(params)}`);
  const gear = Int32Array.from(gearTable(seed), (v) => v | 0);
  const bits = Math.round(Math.log2(avg));
  const maskS = topMask(bits + 2);
  const maskL = topMask(bits - 2);
  // Over a run of zero bytes the hash settles at the fixed point of h = 2h + gear[0]
  // within 32 bytes and stays there. When that value can never satisfy a mask, a zero
  // run cannot hold a cut, so it is skipped by comparing whole blocks (memcmp) instead
  // of hashing byte by byte: disk images and sparse files are mostly such runs.
  const g0 = gear[0]!;
  const fixed = -g0 | 0;
  const skipS = (fixed & maskS) !== 0;
  const skipL = (fixed & maskL) !== 0;
  const ZB = 4096;
  const zeros = new Uint8Array(ZB);
  /** End of the zero run starting at `i` (block-aligned steps), at most `limit`. */
  const zeroRunEnd = (buf: Uint8Array, i: number, limit: number): number => {
    while (i + ZB <= limit && Buffer.compare(buf.subarray(i, i + ZB), zeros) === 0) i += ZB;
    return i;
  };
  return {
    params,
    cut(buf: Uint8Array, start: number, end: number): number {
      let n = end - start;
      if (n <= min) return n;
      if (n > max) n = max;
      const normal = start + (n < avg ? n : avg);
      const limit = start + n;
      let h = 0;
      let i = start + min;
      // Unrolled by two: about 12 % faster in V8 (bench), same cut points.
      for (; i + 1 < normal; i += 2) {
        if (h === fixed && skipS && buf[i] === 0) {
          const j = zeroRunEnd(buf, i, normal);
          if (j > i) {
            i = j - 2;
            continue;
          }
        }
        h = ((h << 1) + gear[buf[i]!]!) | 0;
        if ((h & maskS) === 0) return i - start + 1;
        h = ((h << 1) + gear[buf[i + 1]!]!) | 0;
        if ((h & maskS) === 0) return i - start + 2;
      }
      for (; i < normal; i++) {
        h = ((h << 1) + gear[buf[i]!]!) | 0;
        if ((h & maskS) === 0) return i - start + 1;
      }
      for (; i + 1 < limit; i += 2) {
        if (h === fixed && skipL && buf[i] === 0) {
          const j = zeroRunEnd(buf, i, limit);
          if (j > i) {
            i = j - 2;
            continue;
          }
        }
        h = ((h << 1) + gear[buf[i]!]!) | 0;
        if ((h & maskL) === 0) return i - start + 1;
        h = ((h << 1) + gear[buf[i + 1]!]!) | 0;
        if ((h & maskL) === 0) return i - start + 2;
      }
      for (; i < limit; i++) {
        h = ((h << 1) + gear[buf[i]!]!) | 0;
        if ((h & maskL) === 0) return i - start + 1;
      }
      return n;
    },
  };
}
