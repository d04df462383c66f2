import { Compressor, Decompressor } from 'zstd-napi';
import { AppError } from '../../kernel/index.js';
import { open, seal, blobId } from '../crypto/aead.js';
import { nativeCore, type NativeCodec, type NativeCore } from '../native/core.js';

/**
 * A blob's plaintext is one encoding byte followed by the payload:
 * 0 = stored raw, 1 = zstd frame. The whole is then sealed (AES-256-GCM).
 */
export const ENC_RAW = 0;
export const ENC_ZSTD = 1;

/**
 * The largest blob plaintext a reader accepts. Chunks are at most 8 MiB; trees
 * of huge directories are larger. A crafted archive could otherwise declare a
 * zstd frame of terabytes (a decompression bomb).
 */
export const MAX_BLOB_BYTES = 512 * 1024 * 1024;

/** The content size a zstd frame declares, or undefined when it does not say (or is not a zstd frame). */
export function zstdContentSize(frame: Uint8Array): number | undefined {
  if (frame.length < 6 || frame[0] !== 0x28 || frame[1] !== 0xb5 || frame[2] !== 0x2f || frame[3] !== 0xfd) return undefined;
  const fhd = frame[4]!;
  const fcsFlag = fhd >> 6;
  const single = (fhd >> 5) & 1;
  const dictFlag = fhd & 3;
  let pos = 5 + (single ? 0 : 1) + [0, 1, 2, 4][dictFlag]!;
  const size = fcsFlag === 0 ? (single ? 1 : 0) : [0, 2, 4, 8][fcsFlag]!;
  if (size === 0 || frame.length < pos + size) return undefined;
  let v = 0;
  for (let i = size - 1; i >= 0; i--) v = v * 256 + frame[pos + i]!;
  pos += size;
  return size === 2 ? v + 256 : v;
}

/**
 * The most a sealed blob is longer than its raw bytes (nonce, encoding byte, tag): a blob is
 * stored raw when zstd does not make it smaller, so `raw.length + SEAL_OVERHEAD` bytes always
 * hold it (`BlobCodec.encodeInto`).
 */
export const SEAL_OVERHEAD = 12 + 1 + 16;

/** Below this ratio (compressed / raw) compression is kept; above it the raw bytes are stored. */
const WORTH = 0.97;
const SAMPLE = 64 * 1024;

/**
 * Encodes and decodes blobs with the native core when it is built (native/core.c: one
 * output buffer per blob, no intermediate copies), else with the TypeScript reference.
 * Both write the same format and read each other's blobs; errors are the same AppErrors.
 */
export class BlobCodec {
  private readonly core: NativeCore | undefined;
  private readonly handle: NativeCodec | undefined;
  private ref: ReferenceBlobCodec | undefined;

  constructor(
    private readonly encKey: Buffer,
    private readonly macKey: Buffer,
    private readonly level: number,
    native?: { core: NativeCore; handle: NativeCodec } | null,
  ) {
    if (native === null) return;
    if (native) {
      this.core = native.core;
      this.handle = native.handle;
      return;
    }
    this.core = nativeCore();
    // Only the codec half of the handle is used here: the chunker's parameters do not matter.
    this.handle = this.core?.codec(encKey, macKey, level, new Uint8Array(1024), 1, 1, 1);
  }

  /** The TypeScript codec, made only when needed (its zstd contexts hold a few MiB). */
  private get reference(): ReferenceBlobCodec {
    return (this.ref ??= new ReferenceBlobCodec(this.encKey, this.macKey, this.level));
  }

  /** True when blobs go through the native core. */
  get native(): boolean {
    return this.core !== undefined;
  }

  encode(raw: Uint8Array): Buffer {
    if (this.core) return this.core.encode(this.handle!, raw);
    return this.reference.encode(raw);
  }

  /**
   * Encodes into `out` at `offset` (room for `raw.length + SEAL_OVERHEAD` bytes) and returns
   * the sealed length: a buffer the caller reuses from blob to blob, so none becomes garbage
   * (the reference codec encodes into a new buffer and copies it there).
   */
  encodeInto(raw: Uint8Array, out: Uint8Array, offset: number): number {
    if (out.length - offset < raw.length + SEAL_OVERHEAD) throw new AppError('INTERNAL', 'no room for the sealed blob');
    if (this.core?.encodeInto) return this.core.encodeInto(this.handle!, raw, out, offset);
    // The reference, or a native core built before encodeInto: a new buffer, copied.
    const sealed = this.encode(raw);
    out.set(sealed, offset);
    return sealed.length;
  }

  decode(sealed: Uint8Array, expectedId?: Uint8Array, what = 'blob'): Buffer {
    if (!this.core) return this.reference.decode(sealed, expectedId, what);
    try {
      return this.core.decode(this.handle!, sealed, expectedId);
    } catch (err) {
      throw corrupt(err, what);
    }
  }

  /**
   * Like decode, into a buffer this codec keeps and reuses: the result is valid only until
   * the next call. A restore writes each blob to its files at once, so no blob becomes
   * garbage (with the reference codec, a new buffer as decode).
   */
  decodeTransient(sealed: Uint8Array, expectedId: Uint8Array | undefined, what = 'blob'): Buffer {
    if (!this.core) return this.reference.decode(sealed, expectedId, what);
    let n: number;
    try {
      n = this.core.decodeInto(this.handle!, sealed, expectedId, (this.reusable ??= Buffer.allocUnsafeSlow(REUSABLE)));
    } catch (err) {
      throw corrupt(err, what);
    }
    // Larger than any chunk (a tree of a huge directory): a buffer of its own, not kept.
    return n >= 0 ? this.reusable.subarray(0, n) : this.decode(sealed, expectedId, what);
  }

  /**
   * Like decodeTransient, decrypting in `sealed` itself, which this destroys (a restore's own
   * copy of a pack range): no scratch buffer as large as the blob, and a raw blob's bytes are
   * written from where they were read. The result is valid until the next call.
   */
  decodeInPlace(sealed: Buffer, expectedId: Uint8Array | undefined, what = 'blob'): Buffer {
    if (!this.core?.decodeInPlace) return this.decodeTransient(sealed, expectedId, what);
    let r: number | Buffer;
    try {
      r = this.core.decodeInPlace(this.handle!, sealed, expectedId, (this.reusable ??= Buffer.allocUnsafeSlow(REUSABLE)));
    } catch (err) {
      throw corrupt(err, what);
    }
    if (typeof r !== 'number') return r;
    return sealed[12] === ENC_RAW ? sealed.subarray(13, 13 + r) : this.reusable.subarray(0, r);
  }

  private reusable: Buffer | undefined;
}

/** The reusable decode buffer: the largest chunk (8 MiB by default) and a little more. */
const REUSABLE = 8 * 1024 * 1024 + 64 * 1024;

function corrupt(err: unknown, what: string): unknown {
  if ((err as { code?: string }).code === 'CORRUPT') return new AppError('CORRUPT', `${what} ${(err as Error).message}`);
  return err;
}

/** The TypeScript codec: the reference the native core is compared against, and the fallback without it. */
export class ReferenceBlobCodec {
  private readonly compressor = new Compressor();
  private readonly decompressor = new Decompressor();

  constructor(
    private readonly encKey: Buffer,
    private readonly macKey: Buffer,
    level: number,
  ) {
    this.compressor.setParameters({ compressionLevel: level });
  }

  /**
   * Compresses where it pays, then seals. Large inputs are probed first: a sample
   * from the start, the middle and the end is compressed, and the whole only when
   * some sample shrinks (a chunk that is random at the start may be zeros later,
   * as in disk images), so incompressible data costs three small probes.
   */
  encode(raw: Uint8Array): Buffer {
    if (raw.length >= 64 && (raw.length <= 4 * SAMPLE || this.worthTrying(raw))) {
      const z = this.compressor.compress(raw);
      if (z.length < raw.length * WORTH) return seal(this.encKey, [Uint8Array.of(ENC_ZSTD), z]);
    }
    return seal(this.encKey, [Uint8Array.of(ENC_RAW), raw]);
  }

  private worthTrying(raw: Uint8Array): boolean {
    const part = SAMPLE / 4;
    for (const at of [0, (raw.length - part) >> 1, raw.length - part]) {
      if (this.compressor.compress(raw.subarray(at, at + part)).length < part * WORTH) return true;
    }
    return false;
  }

  /** Opens, decompresses and checks the content id; throws CORRUPT on any mismatch. */
  decode(sealed: Uint8Array, expectedId?: Uint8Array, what = 'blob'): Buffer {
    const plain = open(this.encKey, sealed, what);
    const enc = plain[0];
    let raw: Buffer;
    if (enc === ENC_RAW) raw = plain.subarray(1);
    else if (enc === ENC_ZSTD) {
      const declared = zstdContentSize(plain.subarray(1));
      if (declared === undefined || declared > MAX_BLOB_BYTES) {
        throw new AppError('CORRUPT', `${what} declares ${declared === undefined ? 'no' : `an absurd (${declared} bytes)`} decompressed size; refusing it.`);
      }
      try {
        raw = this.decompressor.decompress(plain.subarray(1));
      } catch (err) {
        throw new AppError('CORRUPT', `${what} does not decompress.`, { cause: err });
      }
    } else throw new AppError('CORRUPT', `${what} has an unknown encoding ${String(enc)}.`);
    if (expectedId && !blobId(this.macKey, raw).equals(expectedId)) {
      throw new AppError('CORRUPT', `${what} does not match its id.`);
    }
    return raw;
  }
}
