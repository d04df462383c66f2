import type { RepoConfig } from '../format/config.js';
import { gearBytes } from '../chunker/fastcdc.js';
import { defaultPoolSize, type BlobWriter, type RestoreItem, type RestoreOutcome } from '../workers/pool.js';
import { nativeCore, type NativeCodec, type NativeCore } from './core.js';

/**
 * A restore's blob writer without worker threads: each pack range is decoded and written into
 * its files by the native core on one of libuv's threads (`restoreRange` in native/core.c),
 * the work the pool's workers do in `restoreJob` (codec-worker.ts, the reference). A worker is
 * a V8 isolate of its own — 9 MiB idle, 20–30 MiB busy — and a restore needs none of its
 * JavaScript: with this writer a restore starts no workers at all (docs/PERFORMANCE.md).
 *
 * One codec handle per range in flight, at most one per core (or `STRONGBOX_WORKERS`): a handle's
 * contexts and decompression buffer are one thread's at a time, so a range waits for a free one.
 */
export class NativeRangeWriter implements BlobWriter {
  private readonly free: NativeCodec[] = [];
  private readonly waiting: ((c: NativeCodec) => void)[] = [];
  private made = 0;

  constructor(
    private readonly core: NativeCore & Required<Pick<NativeCore, 'restoreRange'>>,
    private readonly keys: { encrypt: Buffer; mac: Buffer },
    private readonly config: Pick<RepoConfig, 'compression' | 'chunker' | 'gearSeed'>,
    private readonly lanes = defaultPoolSize(),
  ) {}

  async writeRange(data: Buffer, items: RestoreItem[]): Promise<RestoreOutcome[]> {
    const codec = await this.take();
    try {
      return await this.core.restoreRange(codec, data, encodePlan(items));
    } finally {
      const next = this.waiting.shift();
      if (next) next(codec);
      else this.free.push(codec);
    }
  }

  private take(): Promise<NativeCodec> {
    const c = this.free.pop();
    if (c) return Promise.resolve(c);
    if (this.made < this.lanes) {
      this.made++;
      const { chunker } = this.config;
      return Promise.resolve(this.core.codec(this.keys.encrypt, this.keys.mac, this.config.compression.level, gearBytes(Buffer.from(this.config.gearSeed, 'hex')), chunker.min, chunker.avg, chunker.max));
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }
}

/** The native writer, when the native core is built with `restoreRange` (and not turned off with STRONGBOX_NATIVE=0). */
export function nativeRangeWriter(keys: { encrypt: Buffer; mac: Buffer }, config: Pick<RepoConfig, 'compression' | 'chunker' | 'gearSeed'>): NativeRangeWriter | undefined {
  const core = nativeCore();
  if (!core?.restoreRange) return undefined;
  return new NativeRangeWriter(core as NativeCore & Required<Pick<NativeCore, 'restoreRange'>>, keys, config);
}

const enc = new TextEncoder();

/**
 * The blobs of a range and their targets in the layout `restoreRange` reads (little-endian):
 * u32 count, then per blob u32 off, u32 len, u8 hasId, 32 id bytes, u32 whatLen, what,
 * u32 targets, then per target f64 offset, u8 flags (1 create, 2 chown), u32 mode, u32 uid,
 * u32 gid, f64 size, f64 mtime seconds, u32 nanoseconds, u32 pathLen, path.
 */
export function encodePlan(items: readonly RestoreItem[]): Buffer {
  const whats = items.map((i) => enc.encode(i.what));
  let size = 4;
  items.forEach((it, i) => {
    size += 4 + 4 + 1 + 32 + 4 + whats[i]!.length + 4;
    for (const t of it.targets) size += 8 + 1 + 12 + 8 + 8 + 4 + 4 + t.path.length;
  });
  const b = Buffer.allocUnsafe(size);
  let o = b.writeUInt32LE(items.length, 0);
  items.forEach((it, i) => {
    o = b.writeUInt32LE(it.off, o);
    o = b.writeUInt32LE(it.len, o);
    const hasId = it.id.length === 32;
    o = b.writeUInt8(hasId ? 1 : 0, o);
    if (hasId) b.set(it.id, o);
    else b.fill(0, o, o + 32);
    o += 32;
    o = b.writeUInt32LE(whats[i]!.length, o);
    b.set(whats[i]!, o);
    o += whats[i]!.length;
    o = b.writeUInt32LE(it.targets.length, o);
    for (const t of it.targets) {
      const c = t.create;
      o = b.writeDoubleLE(t.offset, o);
      o = b.writeUInt8((c ? 1 : 0) | (c?.chown ? 2 : 0), o);
      o = b.writeUInt32LE(c?.mode ?? 0, o);
      o = b.writeUInt32LE(c?.uid ?? 0, o);
      o = b.writeUInt32LE(c?.gid ?? 0, o);
      o = b.writeDoubleLE(c?.size ?? 0, o);
      // mtimeSec holds whole microseconds (restore.ts): split exactly, as futimes would truncate them.
      const sec = Math.floor(c?.mtimeSec ?? 0);
      o = b.writeDoubleLE(sec, o);
      o = b.writeUInt32LE(Math.min(999_999, Math.round(((c?.mtimeSec ?? 0) - sec) * 1e6)) * 1000, o);
      o = b.writeUInt32LE(t.path.length, o);
      b.set(t.path, o);
      o += t.path.length;
    }
  });
  return b;
}
