import { Worker } from 'node:worker_threads';
import { setFlagsFromString } from 'node:v8';
import { availableParallelism } from 'node:os';
import { AppError, ownModule, type ErrorCode } from '../../kernel/index.js';
import type { RepoConfig } from '../format/config.js';
import type { DirListing } from './listing.js';
import type { RestoreItem, RestoreOutcome, Sealed, SmallResult, WholeFile, WorkerInit, WorkerRequest, WorkerResponse } from './codec-worker.js';

export type { RestoreItem, RestoreOutcome, SmallResult, WholeFile };

/**
 * A fixed pool of pipeline workers so that the CPU-heavy work of backup and
 * restore (chunking, hashing, compression, encryption) uses every core. Each
 * worker takes several requests at once, so one computes while others wait for
 * the main thread.
 */
export interface BlobEncoder {
  encode(raw: Uint8Array): Promise<Buffer>;
  /**
   * Sealed blobs are written (in the pack's file, on the disk): their buffers may be sealed
   * into again. Only for bytes nothing refers to any more; returns how many bytes were
   * taken back (buffers this encoder did not hand out are left alone).
   */
  recycle?(parts: readonly Uint8Array[]): number;
}
export interface BlobDecoder {
  decode(sealed: Uint8Array, id: Uint8Array | undefined, what: string): Promise<Buffer>;
}

/** The main thread's side of a file job: dedup decisions and sealed blobs. */
export interface ChunkHandler {
  /** Called with each batch of chunk ids; returns which to encode (true = new). */
  onIds(ids: Buffer[], lens: number[]): Promise<{ mask: boolean[]; abort: boolean }>;
  /** Called with each new blob, in order, before the job resolves. */
  onBlob(id: Buffer, sealed: Buffer, rawLength: number): void;
}

/** Decodes blobs of a pack range and writes them into files, on a worker. */
export interface BlobWriter {
  writeRange(data: Buffer, items: RestoreItem[]): Promise<RestoreOutcome[]>;
}

/** A chunked file: its chunk ids in order, the bytes read, and its extended attributes. */
export interface ChunkedFile {
  ids: Buffer[];
  bytes: number;
  xattrs?: Record<string, string>;
  xattrError?: string;
}

export interface FileChunker {
  /** Chunks one file of any size, asking `handler` which chunks are new. */
  chunkFile(path: Buffer, sizeHint: number, handler: ChunkHandler): Promise<ChunkedFile>;
  /** Reads and hashes a batch of files of at most `min` bytes (one chunk each); encodes those `decide` wants. */
  chunkSmall(paths: Buffer[], decide: (ids: Buffer[]) => boolean[]): Promise<SmallResult[]>;
  /** A directory's entries, sorted by name, with their lstat metadata (a SourceReadError when it cannot be read). */
  listDir(path: Buffer): Promise<DirListing>;
  /**
   * Runs `workerJob` of one of Strongbox's own modules on a worker (a job a higher layer
   * defines, such as the backup's listing of a directory against its parent tree); a
   * SourceReadError when it fails on a source file.
   */
  run<O>(module: URL, input: unknown, transfer?: ArrayBuffer[]): Promise<O>;
}

/** An error reading a source file inside a worker, with the errno code kept. */
export class SourceReadError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

/** A worker; `ring`: its ring of sealed blobs, when it has one. */
type Slot = { w: Worker; busy: number; big: number; ready: Promise<void>; isReady: () => void; ring?: Buffer };

/**
 * Each worker's ring of sealed blobs, where the caller recycles them: about what the main
 * thread holds of one worker's blobs before they are written (a saver accepts 8 MiB).
 */
const SEALED_RING = 8 * 1024 * 1024;
/**
 * Each worker's young generation: semi-spaces of 1 MiB (the main thread keeps the 2 MiB that
 * bin/strongbox.js gives it). A worker's JavaScript is a thin loop around the native core, and
 * what it allocates is mostly small messages and the buffers it moves to the main thread, which
 * a smaller young generation frees sooner. Paired runs (docs/PERFORMANCE.md, ninth session):
 * a first snapshot of the default dataset peaks at 140 against 154 MiB, an incremental at 118.5
 * against 124.4, at 1.00x and 1.02x the time; 200,000 small files at 155 against 160 MiB.
 */
const WORKER_SEMI_SPACE_MB = 1;
/** Requests in flight per worker: enough that one computes while others wait on the main thread. */
const PER_WORKER = 4;
/** Large-file jobs per worker: each holds a read buffer of max chunk + 1 MiB. */
const BIG_PER_WORKER = 1;
type Job = { req: WorkerRequest; transfer: ArrayBuffer[]; resolve: (r: WorkerResponse) => void; handler?: ChunkHandler };

export class CodecPool implements BlobEncoder, BlobDecoder, FileChunker, BlobWriter {
  private readonly workers: Slot[] = [];
  private readonly running = new Map<number, Job & { slot: Slot }>();
  private readonly queue: Job[] = [];
  private seq = 0;
  private closed = false;
  /** The workers' rings of sealed blobs, by their buffer (see `recycle`). */
  private readonly rings = new Map<ArrayBufferLike, Slot>();

  private readonly init: WorkerInit;

  /**
   * `recycles`: the caller returns every sealed blob of a file job through `recycle` once it
   * is written (a BlobSaver on a store that writes packs as their blobs arrive): the workers
   * then seal into rings of `SEALED_RING` bytes shared with this thread. `lazy`: the workers
   * start with the first job, not here (a restore may need none: its ranges are written by
   * the native core where it is built).
   */
  constructor(keys: { encrypt: Buffer; mac: Buffer }, config: Pick<RepoConfig, 'compression' | 'chunker' | 'gearSeed'>, readonly size = defaultPoolSize(), opts: { recycles?: boolean; lazy?: boolean } = {}) {
    this.init = {
      encKey: new Uint8Array(keys.encrypt),
      macKey: new Uint8Array(keys.mac),
      level: config.compression.level,
      chunker: config.chunker,
      gearSeed: new Uint8Array(Buffer.from(config.gearSeed, 'hex')),
      sealedRing: opts.recycles ? SEALED_RING : 0,
    };
    if (!opts.lazy) this.start();
  }

  private start(): void {
    // V8 sizes an isolate's young generation from this flag when the isolate is made, and the
    // flag wins over a Worker's resourceLimits; the main isolate's heap is already made and
    // keeps its own size, so setting it here changes only the workers (and any started later).
    setFlagsFromString(`--max-semi-space-size=${WORKER_SEMI_SPACE_MB}`);
    for (let i = 0; i < this.size; i++) {
      const w = new Worker(ownModule('repo/workers/codec-worker.js', 'codec-worker'), { workerData: this.init });
      let isReady = () => {};
      const ready = new Promise<void>((r) => (isReady = r));
      const slot: Slot = { w, busy: 0, big: 0, ready, isReady };
      w.on('message', (res: WorkerResponse) => this.onMessage(slot, res));
      w.on('exit', () => slot.isReady());
      w.on('error', (err) => {
        for (const [seq, job] of this.running) {
          if (job.slot !== slot) continue;
          this.running.delete(seq);
          job.resolve({ seq, kind: 'error', code: 'INTERNAL', message: `worker failed: ${err.message}` });
        }
      });
      w.unref();
      this.workers.push(slot);
    }
  }

  private onMessage(slot: Slot, res: WorkerResponse): void {
    if (res.kind === 'ready') {
      slot.isReady();
      return;
    }
    if (res.kind === 'ring') {
      slot.ring = Buffer.from(res.sab);
      this.rings.set(res.sab, slot);
      return;
    }
    const job = this.running.get(res.seq);
    if (!job) return;
    if (res.kind === 'ids') {
      const ids = Array.from({ length: res.lens.length }, (_, i) => Buffer.from(res.ids.buffer, res.ids.byteOffset + i * 32, 32));
      job.handler!.onIds(ids, res.lens).then(
        (w) => slot.w.postMessage({ seq: res.seq, op: 'want', mask: Uint8Array.from(w.mask, Number), abort: w.abort } satisfies WorkerRequest),
        () => slot.w.postMessage({ seq: res.seq, op: 'want', mask: new Uint8Array(res.lens.length), abort: true } satisfies WorkerRequest),
      );
      return;
    }
    if (res.kind === 'blob') {
      job.handler!.onBlob(Buffer.from(res.id), sealedBuffer(slot, res.sealed), res.rawLength);
      return;
    }
    this.running.delete(res.seq);
    slot.busy--;
    if (job.req.op === 'chunk') slot.big--;
    // A worker with work in flight keeps the process alive; an idle one must not.
    if (slot.busy === 0) slot.w.unref();
    if (res.kind === 'small') for (const r of res.results) if (r.ok && r.sealed) r.sealed = sealedBuffer(slot, r.sealed);
    job.resolve(res);
    this.pump();
  }

  private submit(req: WorkerRequest, transfer: ArrayBuffer[], handler?: ChunkHandler): Promise<WorkerResponse> {
    if (this.closed) return Promise.reject(new AppError('INTERNAL', 'codec pool is closed'));
    return new Promise((resolve) => {
      this.queue.push({ req, transfer, resolve, ...(handler ? { handler } : {}) });
      this.pump();
    });
  }

  private pump(): void {
    if (this.workers.length === 0 && this.queue.length > 0) this.start();
    while (this.queue.length > 0) {
      const isBig = (j: Job) => j.req.op === 'chunk';
      const pick = (j: Job) => {
        let best: Slot | undefined;
        for (const s of this.workers) if (s.busy < PER_WORKER && (!isBig(j) || s.big < BIG_PER_WORKER) && (!best || s.busy < best.busy)) best = s;
        return best;
      };
      // First queued job that has a worker free for it (a large-file job may wait while small work proceeds).
      let qi = -1;
      let best: Slot | undefined;
      for (let i = 0; i < this.queue.length && !best; i++) {
        best = pick(this.queue[i]!);
        if (best) qi = i;
      }
      if (!best) return;
      const job = this.queue.splice(qi, 1)[0]!;
      if (isBig(job)) best.big++;
      job.req.seq = ++this.seq;
      this.running.set(job.req.seq, { ...job, slot: best });
      best.busy++;
      best.w.ref();
      best.w.postMessage(job.req, job.transfer);
    }
  }

  async encode(raw: Uint8Array): Promise<Buffer> {
    const copy = new Uint8Array(raw);
    return unwrap(await this.submit({ seq: 0, op: 'encode', raw: copy }, [copy.buffer]));
  }

  async decode(sealed: Uint8Array, id: Uint8Array | undefined, what: string): Promise<Buffer> {
    const copy = new Uint8Array(sealed);
    return unwrap(await this.submit({ seq: 0, op: 'decode', sealed: copy, id, what }, [copy.buffer]));
  }

  async chunkFile(path: Buffer, sizeHint: number, handler: ChunkHandler): Promise<ChunkedFile> {
    // If the main thread's side fails (say the destination is full), that error is the one to report,
    // not the worker's resulting cancellation.
    let handlerError: unknown;
    const wrapped: ChunkHandler = {
      onIds: (ids, lens) =>
        handler.onIds(ids, lens).catch((err: unknown) => {
          handlerError ??= err;
          throw err;
        }),
      onBlob: (id, sealed, rawLength) => handler.onBlob(id, sealed, rawLength),
    };
    const res = await this.submit({ seq: 0, op: 'chunk', path: new Uint8Array(path), sizeHint }, [], wrapped);
    if (handlerError !== undefined) throw handlerError;
    if (res.kind === 'error' && res.errno) throw new SourceReadError(res.message, res.errno);
    const data = unwrap(res);
    const ids = Array.from({ length: data.length / 32 }, (_, i) => data.subarray(i * 32, i * 32 + 32));
    if (res.kind !== 'result') throw new AppError('INTERNAL', 'unexpected worker response');
    return { ids, bytes: res.bytes ?? 0, ...(res.xattrs ? { xattrs: res.xattrs } : {}), ...(res.xattrError ? { xattrError: res.xattrError } : {}) };
  }

  async chunkSmall(paths: Buffer[], decide: (ids: Buffer[]) => boolean[]): Promise<SmallResult[]> {
    const handler: ChunkHandler = {
      onIds: async (ids) => ({ mask: decide(ids), abort: false }),
      onBlob: () => undefined,
    };
    const res = await this.submit({ seq: 0, op: 'small', paths: paths.map((p) => new Uint8Array(p)) }, [], handler);
    // Made buffers in onMessage, with the ring of the worker that sealed them.
    if (res.kind === 'small') return res.results as SmallResult[];
    unwrap(res);
    throw new AppError('INTERNAL', 'unexpected worker response');
  }

  async run<O>(module: URL, input: unknown, transfer: ArrayBuffer[] = []): Promise<O> {
    const res = await this.submit({ seq: 0, op: 'run', module: module.href, input }, transfer);
    if (res.kind === 'ran') return res.output as O;
    if (res.kind === 'error' && res.errno) throw new SourceReadError(res.message, res.errno);
    unwrap(res);
    throw new AppError('INTERNAL', 'unexpected worker response');
  }

  async listDir(path: Buffer): Promise<DirListing> {
    const res = await this.submit({ seq: 0, op: 'list', path: new Uint8Array(path) }, []);
    if (res.kind === 'listing') return res.listing;
    if (res.kind === 'error' && res.errno) throw new SourceReadError(res.message, res.errno);
    unwrap(res);
    throw new AppError('INTERNAL', 'unexpected worker response');
  }

  /**
   * Writes the blobs of one range read from a pack; the range's bytes move to the worker
   * without a copy, or, in a SharedArrayBuffer, are read there in place (the caller must
   * not reuse it before this resolves).
   */
  async writeRange(data: Buffer, items: RestoreItem[]): Promise<RestoreOutcome[]> {
    if (data.buffer instanceof SharedArrayBuffer) {
      // A shared buffer the caller reuses once this resolves: nothing to move or copy.
      const res = await this.submit({ seq: 0, op: 'restore', data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), items }, []);
      if (res.kind === 'restored') return res.results;
      unwrap(res);
      throw new AppError('INTERNAL', 'unexpected worker response');
    }
    const owned = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength ? new Uint8Array(data.buffer, 0, data.byteLength) : new Uint8Array(data);
    const res = await this.submit({ seq: 0, op: 'restore', data: owned, items }, [owned.buffer as ArrayBuffer]);
    if (res.kind === 'restored') return res.results;
    unwrap(res);
    throw new AppError('INTERNAL', 'unexpected worker response');
  }

  /**
   * Sealed blobs in a worker's ring (`sealedRing`) are written: that worker may seal into their
   * space again. The caller must hold no other reference to them. Returns their bytes.
   */
  recycle(parts: readonly Uint8Array[]): number {
    let bytes = 0;
    let freed: Map<Slot, number[]> | undefined;
    for (const p of parts) {
      const slot = this.rings.get(p.buffer);
      if (!slot) continue;
      bytes += p.byteLength;
      freed ??= new Map();
      const starts = freed.get(slot) ?? [];
      starts.push(p.byteOffset);
      freed.set(slot, starts);
    }
    if (freed && !this.closed) for (const [slot, starts] of freed) slot.w.postMessage({ seq: 0, op: 'free', starts } satisfies WorkerRequest);
    return bytes;
  }

  async close(): Promise<void> {
    this.closed = true;
    // Not while a worker still loads its addons (that aborts the process): wait for it to be ready.
    await Promise.all(this.workers.map(async (s) => {
      s.w.ref();
      await s.ready;
      await s.w.terminate();
    }));
  }
}

/** A sealed blob from a worker: its own buffer, or a view of the worker's ring. */
function sealedBuffer(slot: Slot, s: Sealed): Buffer {
  if (s instanceof Uint8Array) return toBuffer(s);
  if (!slot.ring || s.at + s.length > slot.ring.length) throw new AppError('INTERNAL', 'a sealed blob outside its ring');
  return slot.ring.subarray(s.at, s.at + s.length);
}

function toBuffer(u: Uint8Array): Buffer {
  return Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}

function unwrap(res: WorkerResponse): Buffer {
  if (res.kind === 'result') return toBuffer(res.data);
  if (res.kind === 'error') throw new AppError(res.code as ErrorCode, res.message);
  throw new AppError('INTERNAL', `unexpected worker response ${res.kind}`);
}

export function defaultPoolSize(): number {
  const env = Number(process.env.STRONGBOX_WORKERS);
  if (Number.isInteger(env) && env > 0) return env;
  return Math.max(1, availableParallelism());
}
