import { AppError } from '../kernel/index.js';
import { sha256 } from './crypto/keys.js';
import type { IndexedPack } from './index/index-file.js';
import { encodePackHeader, type BlobType, type PackedBlob } from './pack/pack.js';
import type { Repository } from './repository.js';
import type { BlobEncoder } from './workers/pool.js';

export interface SaverStats {
  newBlobs: number;
  newRawBytes: number;
  newStoredBytes: number;
  packs: number;
}

export interface SaverOptions {
  /** Most bytes of raw blobs waiting for the encoder at once (memory bound). */
  maxInFlight?: number;
  /** Write an index file after this many packs, so an interrupted run's data is reused. */
  indexEvery?: number;
  /** Leave index writing to the caller (prune writes one consolidated index); see `written`. */
  deferIndex?: boolean;
}

/**
 * Deduplicates and stores blobs: each new blob is encoded on the worker pool,
 * appended to the open pack, and packs are written whole (atomically). Blobs
 * enter the shared index only once their pack is durable; index files are
 * written every few packs and on flush.
 */
export class BlobSaver {
  readonly stats: SaverStats = { newBlobs: 0, newRawBytes: 0, newStoredBytes: 0, packs: 0 };
  private readonly pending = new Set<string>();
  private inFlight = 0;
  private readonly waiters: (() => void)[] = [];
  private readonly maxInFlight: number;
  private readonly indexEvery: number;
  private parts: Buffer[] = [];
  private blobs: PackedBlob[] = [];
  private packBytes = 0;
  private readonly work = new Set<Promise<void>>();
  private unindexed: IndexedPack[] = [];
  /** Packs written by this saver, when index writing is deferred. */
  readonly written: IndexedPack[] = [];
  private readonly deferIndex: boolean;
  private failure: unknown;

  constructor(
    private readonly repo: Repository,
    private readonly encoder: BlobEncoder,
    opts: SaverOptions = {},
  ) {
    this.maxInFlight = opts.maxInFlight ?? 64 * 1024 * 1024;
    this.indexEvery = opts.indexEvery ?? 8;
    this.deferIndex = opts.deferIndex ?? false;
  }

  /** Stores an already sealed blob as is (prune's repacking); the caller guarantees it is wanted. */
  saveSealed(type: BlobType, id: Buffer, sealed: Buffer, rawLength: number): Promise<void> {
    this.throwIfFailed();
    this.pending.add(id.toString('hex'));
    this.stats.newBlobs++;
    this.stats.newRawBytes += rawLength;
    this.stats.newStoredBytes += sealed.length;
    this.blobs.push({ type, id, offset: this.packBytes, length: sealed.length, rawLength });
    this.parts.push(sealed);
    this.packBytes += sealed.length;
    if (this.packBytes >= this.repo.config.packSize) return this.finishPack();
    return Promise.resolve();
  }

  /** True when the blob is already stored or being stored. */
  known(id: Buffer): boolean {
    return this.repo.index.has(id) || this.pending.has(id.toString('hex'));
  }

  /** Stores `raw` under `id` unless known. Resolves once accepted (not yet durable). Returns whether it was new. */
  async save(type: BlobType, id: Buffer, raw: Uint8Array): Promise<boolean> {
    this.throwIfFailed();
    const key = id.toString('hex');
    if (this.repo.index.has(id) || this.pending.has(key)) return false;
    this.pending.add(key);
    while (this.inFlight > 0 && this.inFlight + raw.length > this.maxInFlight) {
      await new Promise<void>((r) => this.waiters.push(r));
      this.throwIfFailed();
    }
    this.inFlight += raw.length;
    const rawLength = raw.length;
    this.track(
      this.encoder.encode(raw).then(
        (sealed) => {
          this.release(rawLength);
          this.stats.newBlobs++;
          this.stats.newRawBytes += rawLength;
          this.stats.newStoredBytes += sealed.length;
          this.blobs.push({ type, id, offset: this.packBytes, length: sealed.length, rawLength });
          this.parts.push(sealed);
          this.packBytes += sealed.length;
          if (this.packBytes >= this.repo.config.packSize) this.track(this.finishPack());
        },
        (err: unknown) => {
          this.release(rawLength);
          throw err;
        },
      ),
    );
    return true;
  }

  private release(n: number): void {
    this.inFlight -= n;
    for (const w of this.waiters.splice(0)) w();
  }

  private track(p: Promise<void>): void {
    const q = p.catch((err: unknown) => {
      this.failure ??= err;
      for (const w of this.waiters.splice(0)) w();
    });
    this.work.add(q);
    void q.finally(() => this.work.delete(q));
  }

  private throwIfFailed(): void {
    if (this.failure !== undefined) throw this.failure;
  }

  private async finishPack(): Promise<void> {
    if (this.blobs.length === 0) return;
    const blobs = this.blobs;
    const parts = this.parts;
    this.blobs = [];
    this.parts = [];
    this.packBytes = 0;
    parts.push(encodePackHeader(this.repo.master.encrypt, blobs));
    const data = Buffer.concat(parts);
    const name = sha256(data).toString('hex');
    await this.repo.backend.put({ kind: 'data', name }, data);
    this.stats.packs++;
    for (const b of blobs) {
      if (!this.deferIndex) this.repo.index.add(b.id, { type: b.type, pack: name, offset: b.offset, length: b.length, rawLength: b.rawLength });
      this.pending.delete(b.id.toString('hex'));
    }
    if (this.deferIndex) {
      this.written.push({ id: name, blobs });
      return;
    }
    this.unindexed.push({ id: name, blobs });
    if (this.unindexed.length >= this.indexEvery) await this.writeIndex();
  }

  private async writeIndex(): Promise<void> {
    if (this.unindexed.length === 0) return;
    const packs = this.unindexed;
    this.unindexed = [];
    await this.repo.saveIndex({ supersedes: [], packs });
  }

  /** Waits for every accepted blob, writes the last pack and the index durably. */
  async flush(): Promise<void> {
    while (this.work.size > 0) await Promise.all([...this.work]);
    this.throwIfFailed();
    await this.finishPack();
    await this.writeIndex();
    if (this.pending.size > 0) throw new AppError('INTERNAL', `${this.pending.size} blobs were accepted but never stored`);
  }

  /** Best effort after a cancel or failure: keep what is already encoded, so the next run reuses it. */
  async salvage(): Promise<void> {
    try {
      while (this.work.size > 0) await Promise.all([...this.work]);
      if (this.failure === undefined) await this.finishPack();
      await this.writeIndex();
    } catch {
      /* the caller is already failing with the original error */
    }
  }
}
