import { AppError, GarbageBudget } from '../kernel/index.js';
import type { ObjectWriter } from '../storage/index.js';
import type { IndexedPack } from './blob-index/index-file.js';
import { encodePackHeader, packName, type BlobType, type PackedBlob } from './pack/pack.js';
import type { Repository } from './repository.js';
import type { BlobEncoder } from './workers/pool.js';

/**
 * A pack also closes at this many blobs: each blob waiting in an open pack costs a
 * few hundred bytes of heap, and a pack of tiny files could otherwise hold hundreds of
 * thousands of them (measured: 200,000 small files took the heap to 290 MiB).
 */
const MAX_BLOBS_PER_PACK = 20_000;
/** Streamed packs: blobs gathered into one vectored write of about this many bytes. */
const STREAM_WRITE = 1024 * 1024;
/** Streamed packs: most bytes accepted and not yet written before producers wait. */
const STREAM_BACKLOG = 8 * 1024 * 1024;
/** Packs between index files where the store streams; see the constructor. */
const INDEX_EVERY_STREAMED = 32;
/** Streamed packs: most finished packs waiting for their commit (fsync, rename) before producers wait. */
const MAX_COMMITTING = 4;
/** Room in a pack buffer beyond the pack size: a pack closes after the blob that reaches it. */
const PACK_SLACK = 2 * 1024 * 1024;

/** The open pack's temporary object and the chain of its writes, in order. */
interface PackStream {
  writer: Promise<ObjectWriter>;
  chain: Promise<void>;
  gathered: Buffer[];
  gatheredBytes: number;
}

export interface SaverStats {
  newBlobs: number;
  newRawBytes: number;
  newStoredBytes: number;
  packs: number;
}

export interface SaverOptions {
  /** Most bytes of finished packs waiting to be written at once (memory bound). */
  maxWriteBacklog?: number;
  /** Write an index file after this many packs, so an interrupted run's data is reused. */
  indexEvery?: number;
  /** Leave index writing to the caller (prune writes one consolidated index); see `written`. */
  deferIndex?: boolean;
}

/**
 * Deduplicates and stores blobs. A caller first `claim`s an id (false: already
 * stored or being stored), then hands over the sealed blob with `addSealed`.
 * Blobs are appended to the open pack; packs are written whole (atomically) and
 * their blobs enter the shared index only once durable. Index files are written
 * every few packs and on flush. Where the store writes objects as their parts
 * arrive (local disks), the open pack goes to its temporary file in writes of
 * about STREAM_WRITE bytes, so memory holds blobs in flight, not whole packs.
 */
export class BlobSaver {
  readonly stats: SaverStats = { newBlobs: 0, newRawBytes: 0, newStoredBytes: 0, packs: 0 };
  /** Packs written by this saver, when index writing is deferred. */
  readonly written: IndexedPack[] = [];
  private readonly pending = new Set<string>();
  private readonly maxWriteBacklog: number;
  private readonly indexEvery: number;
  private readonly deferIndex: boolean;
  private backlog = 0;
  private readonly waiters: (() => void)[] = [];
  private parts: Buffer[] = [];
  /**
   * The buffer whole packs are written from, kept for the next pack (stores that take whole
   * packs). One: keeping a second cost 9 MiB of peak for nothing (docs/PERFORMANCE.md).
   */
  private spareBuffer: Buffer | undefined;
  private blobs: PackedBlob[] = [];
  private packBytes = 0;
  private readonly work = new Set<Promise<void>>();
  private unindexed: IndexedPack[] = [];
  private unindexedBlobs = 0;
  private failure: unknown;
  private readonly garbage = new GarbageBudget(32 * 1024 * 1024, 'minor');
  private stream: PackStream | undefined;
  private committing = 0;
  private readonly streams: boolean;

  constructor(
    private readonly repo: Repository,
    private readonly encoder: BlobEncoder,
    opts: SaverOptions = {},
  ) {
    this.streams = repo.streamsPackWrites;
    this.maxWriteBacklog = opts.maxWriteBacklog ?? (this.streams ? STREAM_BACKLOG : repo.config.packSize);
    // Where a request costs more than its bytes (S3, Azure), every index file is a request now and
    // one for each later command: one every 32 packs (512 MiB) there, every 8 on other stores.
    this.indexEvery = opts.indexEvery ?? (repo.streamsPacks ? INDEX_EVERY_STREAMED : 8);
    this.deferIndex = opts.deferIndex ?? false;
  }

  /** True when the blob (its id in hex, as trees hold them) is already stored or being stored. */
  knownHex(hex: string): boolean {
    // Decoded into one scratch buffer: an incremental snapshot asks this for every chunk of every unchanged file.
    // The index first: it holds almost every id asked about, and the set would hash the whole string.
    return (hex.length === 64 && this.idScratch.write(hex, 'hex') === 32 && this.repo.index.has(this.idScratch)) || (this.pending.size > 0 && this.pending.has(hex));
  }
  private readonly idScratch = Buffer.alloc(32);

  /** `knownHex` for the id at `at` in `ids`. */
  knownAt(ids: Buffer, at: number): boolean {
    return this.repo.index.hasAt(ids, at) || (this.pending.size > 0 && this.pending.has(ids.toString('hex', at, at + 32)));
  }

  /** Reserves an id for storing; false when it is already stored or claimed. */
  claim(id: Buffer): boolean {
    this.throwIfFailed();
    if (this.repo.index.has(id)) return false;
    const key = id.toString('hex');
    if (this.pending.has(key)) return false;
    this.pending.add(key);
    return true;
  }

  /** Gives up a claim whose blob will never arrive (its producer failed). */
  unclaim(id: Buffer): void {
    this.pending.delete(id.toString('hex'));
  }

  /** Appends a claimed (or, for repacking, any) sealed blob to the open pack. */
  addSealed(type: BlobType, id: Buffer, sealed: Buffer, rawLength: number): void {
    this.pending.add(id.toString('hex'));
    if (type === 'tree') this.repo.cache?.put('trees', id.toString('hex'), sealed);
    this.stats.newBlobs++;
    this.stats.newRawBytes += rawLength;
    this.stats.newStoredBytes += sealed.length;
    this.blobs.push({ type, id, offset: this.packBytes, length: sealed.length, rawLength });
    if (this.streams) this.streamPart((this.stream ??= this.openStream()), sealed);
    else this.parts.push(sealed);
    this.packBytes += sealed.length;
    if (this.packBytes >= this.repo.config.packSize || this.blobs.length >= MAX_BLOBS_PER_PACK) this.track(this.finishPack());
  }

  /** Resolves when the backlog of packs waiting to be written is small enough to accept more. */
  async room(): Promise<void> {
    while ((this.backlog > this.maxWriteBacklog || this.committing >= MAX_COMMITTING) && this.failure === undefined) await new Promise<void>((r) => this.waiters.push(r));
    this.throwIfFailed();
  }

  /** Encodes (on the pool) and stores `raw` unless known. Returns whether it was new. */
  async save(type: BlobType, id: Buffer, raw: Uint8Array): Promise<boolean> {
    if (!this.claim(id)) return false;
    await this.room();
    this.track(
      this.encoder.encode(raw).then(
        (sealed) => this.addSealed(type, id, sealed, raw.length),
        (err: unknown) => {
          this.unclaim(id);
          throw err;
        },
      ),
    );
    return true;
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  private track(p: Promise<void>): void {
    const q = p.catch((err: unknown) => {
      this.failure ??= err;
      this.wake();
    });
    this.work.add(q);
    void q.finally(() => this.work.delete(q));
  }

  private throwIfFailed(): void {
    if (this.failure !== undefined) throw this.failure;
  }

  /** Opens the temporary file of a new pack. */
  private openStream(): PackStream {
    const writer = this.repo.openPackWriter()!;
    writer.catch(() => undefined); // its failure reaches the saver through the first write
    return { writer, chain: Promise.resolve(), gathered: [], gatheredBytes: 0 };
  }

  /** Gathers a sealed blob for the open pack's file; writes when enough is gathered (or `last`). */
  private streamPart(st: PackStream, sealed: Buffer, last = false): void {
    st.gathered.push(sealed);
    st.gatheredBytes += sealed.length;
    this.backlog += sealed.length;
    if (!last && st.gatheredBytes < STREAM_WRITE) return;
    const parts = st.gathered;
    const size = st.gatheredBytes;
    st.gathered = [];
    st.gatheredBytes = 0;
    st.chain = st.chain.then(async () => {
      let recycled = 0;
      try {
        await (await st.writer).write(parts);
        // In the file now: the encoder may seal into these buffers again (nothing else holds them:
        // trees kept for the tree cache come from encode(), which is not recycled).
        recycled = this.encoder.recycle?.(parts) ?? 0;
      } finally {
        this.backlog -= size;
        this.garbage.spent(size - recycled);
        this.wake();
      }
    });
    // A failed write fails the saver at once (producers stop waiting); finishPack sees it too.
    this.track(st.chain);
  }

  /** Removes the open pack's temporary file (after a failure or a cancel). */
  private async abortStream(): Promise<void> {
    const st = this.stream;
    this.stream = undefined;
    if (!st) return;
    await st.chain.catch(() => undefined);
    await (await st.writer.catch(() => undefined))?.abort();
  }

  private async finishStreamedPack(): Promise<void> {
    const blobs = this.blobs;
    const st = this.stream!;
    this.stream = undefined;
    this.blobs = [];
    this.packBytes = 0;
    const header = encodePackHeader(this.repo.master.encrypt, blobs);
    const name = packName(header);
    this.streamPart(st, header, true);
    this.committing++;
    try {
      await st.chain;
      await (await st.writer).commit(name);
    } catch (err) {
      await (await st.writer.catch(() => undefined))?.abort();
      throw err;
    } finally {
      this.committing--;
      this.wake();
    }
    await this.packWritten(name, blobs);
  }

  private async finishPack(): Promise<void> {
    if (this.blobs.length === 0) return;
    if (this.streams) return this.finishStreamedPack();
    const blobs = this.blobs;
    const parts = this.parts;
    this.blobs = [];
    this.parts = [];
    this.packBytes = 0;
    const header = encodePackHeader(this.repo.master.encrypt, blobs);
    parts.push(header);
    const name = packName(header);
    const size = parts.reduce((n, p) => n + p.length, 0);
    // The pack goes up as one buffer, copied into the one the saver keeps between packs: a new
    // buffer for each pack (the store concatenating its parts) is 16 MiB of fresh pages each time,
    // which the kernel must fault in and zero (half a second of a first snapshot of 0.3 GiB on S3).
    const buf = this.packBuffer(size);
    let at = 0;
    for (const part of parts) {
      buf.set(part, at);
      at += part.length;
    }
    this.backlog += size;
    try {
      await this.repo.writePack(name, buf.subarray(0, size));
    } finally {
      this.spareBuffer ??= buf;
      this.backlog -= size;
      this.garbage.spent(size);
      this.wake();
    }
    await this.packWritten(name, blobs);
  }

  /** The kept buffer when it has room for `size` bytes, else a new one (kept once its pack is written). */
  private packBuffer(size: number): Buffer {
    const spare = this.spareBuffer;
    if (spare && spare.length >= size) {
      this.spareBuffer = undefined;
      return spare;
    }
    // Room for a pack of the configured size and its last blob, so that later packs fit too.
    return Buffer.allocUnsafeSlow(Math.max(size, this.repo.config.packSize + PACK_SLACK));
  }

  /** A durable pack: its blobs enter the index (or the list of written packs). */
  private async packWritten(name: string, blobs: PackedBlob[]): Promise<void> {
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
    this.unindexedBlobs += blobs.length;
    if (this.unindexed.length >= this.indexEvery || this.unindexedBlobs >= 2 * MAX_BLOBS_PER_PACK) await this.writeIndex();
  }

  private async writeIndex(): Promise<void> {
    if (this.unindexed.length === 0) return;
    const packs = this.unindexed;
    this.unindexed = [];
    this.unindexedBlobs = 0;
    await this.repo.saveIndex({ supersedes: [], packs });
  }

  /** Waits for every accepted blob, writes the last pack and the index durably. */
  async flush(): Promise<void> {
    while (this.work.size > 0) await Promise.all([...this.work]);
    this.throwIfFailed();
    await this.finishPack();
    await this.writeIndex();
    if (this.pending.size > 0) throw new AppError('INTERNAL', `${this.pending.size} blobs were claimed but never stored`);
  }

  /**
   * Best effort after a cancel or failure: keep what is already encoded, so the next run
   * reuses it. Not on a full destination: there, packs left unindexed are what `repo prune`
   * can delete without first writing anything, which is how the space comes back.
   */
  async salvage(): Promise<void> {
    try {
      while (this.work.size > 0) await Promise.all([...this.work]);
      if (this.failure instanceof AppError && this.failure.code === 'STORAGE_FULL') {
        await this.abortStream();
        return;
      }
      if (this.failure === undefined) await this.finishPack();
      else await this.abortStream();
      await this.writeIndex();
    } catch {
      /* the caller is already failing with the original error */
    } finally {
      await this.abortStream().catch(() => undefined);
    }
  }
}
