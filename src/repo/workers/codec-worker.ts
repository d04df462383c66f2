import { closeSync, constants as fsc, fchmodSync, fchownSync, fstatSync, ftruncateSync, futimesSync, openSync, readSync, writeSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { AppError, GarbageBudget, OWN_MODULE_DIRS } from '../../kernel/index.js';
import { blobId } from '../crypto/aead.js';
import { createChunker, gearBytes, type ChunkerParams } from '../chunker/fastcdc.js';
import { BlobCodec, SEAL_OVERHEAD } from '../format/blob.js';
import { nativeCore } from '../native/core.js';
import { readXattrs } from './xattrs.js';
import { listDirectory, type DirListing } from './listing.js';
import { RingSpace } from './ring.js';

/**
 * Worker thread of the chunk pipeline. Besides encoding (compress + seal) and
 * decoding (open + decompress + verify) single blobs, it runs whole-file jobs:
 * read → FastCDC → keyed ids → ask the main thread which ids are new → encode
 * only those → send them back sealed. Deduplication state stays on the main
 * thread; everything CPU-heavy happens here, on every core.
 */
export interface WorkerInit {
  encKey: Uint8Array;
  macKey: Uint8Array;
  level: number;
  chunker: ChunkerParams;
  gearSeed: Uint8Array;
  /** Bytes of the ring sealed blobs are written into (0: none; only where the main thread says when they are written). */
  sealedRing: number;
}

export type WorkerRequest =
  | { seq: number; op: 'encode'; raw: Uint8Array }
  | { seq: number; op: 'decode'; sealed: Uint8Array; id: Uint8Array | undefined; what: string }
  | { seq: number; op: 'chunk'; path: Uint8Array; sizeHint: number }
  | { seq: number; op: 'small'; paths: Uint8Array[] }
  | { seq: number; op: 'list'; path: Uint8Array }
  /** A job a higher layer defines: its module (this program's own, under dist/src) exports `workerJob`. */
  | { seq: number; op: 'run'; module: string; input: unknown }
  | { seq: number; op: 'restore'; data: Uint8Array; items: RestoreItem[] }
  | { seq: number; op: 'want'; mask: Uint8Array; abort: boolean }
  /** Blobs this worker sealed into its ring (where each starts) are written: their space may be sealed into again. */
  | { seq: 0; op: 'free'; starts: number[] };

export type WorkerResponse =
  | { seq: number; kind: 'result'; data: Uint8Array; bytes?: number; xattrs?: Record<string, string>; xattrError?: string }
  | { seq: number; kind: 'error'; code: string; message: string; errno?: string }
  | { seq: number; kind: 'ids'; ids: Uint8Array; lens: number[] }
  | { seq: number; kind: 'blob'; id: Uint8Array; sealed: Sealed; rawLength: number }
  /** Sent once, before any blob, when the worker seals into a ring. */
  | { seq: 0; kind: 'ring'; sab: SharedArrayBuffer }
  | { seq: number; kind: 'small'; results: SmallResult<Sealed>[] }
  | { seq: number; kind: 'listing'; listing: DirListing }
  | { seq: number; kind: 'ran'; output: unknown }
  | { seq: number; kind: 'restored'; results: RestoreOutcome[] }
  /** Sent once, when the worker has loaded everything (its addons included) and listens. */
  | { seq: 0; kind: 'ready' };

/**
 * A sealed blob in a buffer of its own, or where it is in the worker's ring (a shared buffer is
 * a new object each time it is posted, so blobs in it travel as offsets).
 */
export type Sealed = Uint8Array | RingSpan;
export interface RingSpan {
  at: number;
  length: number;
}

/** A blob inside a range read from a pack, and where its plaintext goes (files already exist). */
export interface RestoreItem {
  off: number;
  len: number;
  id: Uint8Array;
  what: string;
  targets: { path: Uint8Array; offset: number; create?: WholeFile }[];
}

/** For a file that is this one blob: create it here and finish it (size, owner, mode, time) in one go. */
export interface WholeFile {
  size: number;
  mode: number;
  uid: number;
  gid: number;
  chown: boolean;
  mtimeSec: number;
}

export type RestoreOutcome = { ok: true; rawLength: number } | { ok: false; message: string };

/** One small file of a batch: its single chunk (id and sealed blob), or why it was not read. */
export type SmallResult<S = Uint8Array> =
  /** `sealed` is absent when the main thread said the blob is already stored or claimed. */
  | { ok: true; id: Uint8Array; sealed?: S; rawLength: number; xattrs?: Record<string, string>; xattrError?: string }
  | { ok: false; grew: true }
  | { ok: false; grew: false; errno: string; message: string };

const init = workerData as WorkerInit;
const macKey = Buffer.from(init.macKey);
/**
 * With the native core one handle does it all for this thread: cut points and ids of a
 * whole buffer in one call (`scan`), and encoding into one output buffer per blob.
 */
const core = nativeCore();
const handle = core?.codec(init.encKey, init.macKey, init.level, gearBytes(init.gearSeed), init.chunker.min, init.chunker.avg, init.chunker.max);
const codec = new BlobCodec(Buffer.from(init.encKey), macKey, init.level, core && handle ? { core, handle } : null);
const chunker = createChunker(init.chunker, init.gearSeed, core);
/** Reads of 1 MiB: the read buffer is the largest chunk and one read (4 MiB reads: 9 MiB more peak for two workers, at the same speed). */
const READ_BLOCK = 1024 * 1024;
const BIG = init.chunker.max + READ_BLOCK;
/** Bytes buffered before a scan for cut points: a few average chunks (see chunkJob). */
const SCAN_AT = Math.min(BIG, 4 * init.chunker.avg);
/** Room for the most chunks one scan can find in a read buffer. */
const SCAN_MAX = Math.ceil(BIG / init.chunker.min) + 2;
const scanIds = Buffer.allocUnsafeSlow(32 * SCAN_MAX);
const scanLens = new Uint32Array(SCAN_MAX);

/** The keyed id of a small file's content. */
function dataId(data: Buffer): Buffer {
  return core ? core.id(handle!, data) : blobId(macKey, data);
}
const spare: Buffer[] = [];
/** Read buffers kept per worker, in use or spare; matches the pool's large-file jobs per worker. */
const MAX_BIG_BUFFERS = 1;
let activeBig = 0;
const wants = new Map<number, (w: { mask: Uint8Array; abort: boolean }) => void>();
const port = parentPort!;
const garbage = new GarbageBudget(16 * 1024 * 1024, 'minor');
const restoreGarbage = new GarbageBudget(16 * 1024 * 1024, 'major');

/**
 * Where packs are written as their blobs arrive (local disks), sealed blobs are written into a
 * ring in memory shared with the main thread (`WorkerInit.sealedRing` bytes): the main thread
 * writes them to the pack's file from there and then says which are written (`free`), and
 * only then is their space sealed into again. A backup's sealed bytes thus stay in a few MiB
 * touched once, instead of each blob becoming a buffer of its own that stayed on the main
 * thread until a collection (30 MiB and more of dead blobs at a first snapshot's peak,
 * docs/PERFORMANCE.md). A blob that does not fit (the ring is full, or the blob is larger
 * than it) gets a buffer of its own, moved to the main thread as before.
 */
class SealedRing {
  readonly sab: SharedArrayBuffer;
  private readonly bytes: Uint8Array;
  private readonly space: RingSpace;

  constructor(size: number) {
    this.sab = new SharedArrayBuffer(size);
    this.bytes = new Uint8Array(this.sab);
    this.space = new RingSpace(size);
  }

  /** Seals `raw` into the ring: where it is, or undefined when it does not fit. */
  seal(raw: Uint8Array): RingSpan | undefined {
    const at = this.space.place(raw.length + SEAL_OVERHEAD);
    if (at < 0) return undefined;
    const n = codec.encodeInto(raw, this.bytes, at);
    this.space.take(at, n);
    return { at, length: n };
  }

  /** The blobs starting at these offsets are written. */
  free(starts: number[]): void {
    for (const start of starts) this.space.free(start);
  }
}
const ring = init.sealedRing > 0 ? new SealedRing(init.sealedRing) : undefined;

/** `raw` sealed into the ring, or into a buffer of its own (then in `transfer`). */
function sealed(raw: Uint8Array, transfer: ArrayBuffer[]): Sealed {
  const inRing = ring?.seal(raw);
  if (inRing) return inRing;
  const out = owned(codec.encode(raw));
  garbage.spent(out.length);
  transfer.push(out.buffer as ArrayBuffer);
  return out;
}

/** A view that owns its whole ArrayBuffer, so it can be transferred (copied only when it shares one). */
function owned(b: Uint8Array): Uint8Array {
  if (b.byteOffset === 0 && b.byteLength === b.buffer.byteLength && !(b.buffer instanceof SharedArrayBuffer)) return b;
  const o = new Uint8Array(b.length);
  o.set(b);
  return o;
}

/** Ids of all-zero chunks by length: disk images and sparse files repeat them endlessly. */
const zeroIds = new Map<number, Buffer>();
const zeroBlock = Buffer.alloc(64 * 1024);

function isZero(b: Buffer): boolean {
  for (let o = 0; o < b.length; o += zeroBlock.length) {
    const end = Math.min(o + zeroBlock.length, b.length);
    if (Buffer.compare(b.subarray(o, end), zeroBlock.subarray(0, end - o)) !== 0) return false;
  }
  return true;
}

function chunkId(chunk: Buffer): Buffer {
  if (chunk.length < 64 * 1024 || chunk[0] !== 0 || !isZero(chunk)) return blobId(macKey, chunk);
  let id = zeroIds.get(chunk.length);
  if (!id) {
    id = blobId(macKey, chunk);
    if (zeroIds.size < 64) zeroIds.set(chunk.length, id);
  }
  return id;
}

function post(res: WorkerResponse, transfer: ArrayBuffer[] = []): void {
  port.postMessage(res, transfer);
}

function fail(seq: number, err: unknown): void {
  const errno = (err as NodeJS.ErrnoException).code;
  post({
    seq,
    kind: 'error',
    code: err instanceof AppError ? err.code : 'INTERNAL',
    message: err instanceof Error ? err.message : String(err),
    ...(errno && !(err instanceof AppError) ? { errno } : {}),
  });
}

function openSource(path: Buffer): number {
  try {
    // O_NOATIME keeps a backup from touching every file's atime; only the owner (or root) may ask for it.
    return openSync(path, fsc.O_RDONLY | fsc.O_NOATIME);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EPERM') return openSync(path, fsc.O_RDONLY);
    throw err;
  }
}

async function chunkJob(seq: number, path: Buffer, sizeHint: number): Promise<void> {
  let fd: number;
  try {
    fd = openSource(path);
  } catch (err) {
    fail(seq, err);
    return;
  }
  activeBig++;
  let buf = sizeHint < init.chunker.min ? Buffer.allocUnsafe(sizeHint + 1) : (spare.pop() ?? Buffer.allocUnsafeSlow(BIG));
  const content: Buffer[] = [];
  let total = 0;
  let reach = 0;
  try {
    let filled = 0;
    let eof = false;
    for (;;) {
      // A large file's buffer is scanned once SCAN_AT bytes are in it (more only while its first
      // chunk is still longer), so only its first few MiB are touched, not all of the largest chunk's.
      const want = buf.length < BIG ? buf.length : Math.min(BIG, Math.max(SCAN_AT, filled + READ_BLOCK));
      while (!eof && filled < want) {
        const n = readSync(fd, buf, filled, Math.min(READ_BLOCK, want - filled), null);
        if (n === 0) eof = true;
        filled += n;
        total += n;
      }
      if (filled > reach) reach = filled;
      if (!eof && buf.length < BIG) {
        // The file grew past what stat said.
        const bigger = spare.pop() ?? Buffer.allocUnsafeSlow(BIG);
        buf.copy(bigger, 0, 0, filled);
        buf = bigger;
        continue;
      }
      const starts: number[] = [];
      const lens: number[] = [];
      let start = 0;
      let ids: Buffer;
      if (core) {
        const count = core.scan(handle!, buf, filled, eof, scanIds, scanLens);
        for (let i = 0; i < count; i++) {
          starts.push(start);
          lens.push(scanLens[i]!);
          start += scanLens[i]!;
        }
        ids = Buffer.allocUnsafeSlow(32 * count);
        scanIds.copy(ids, 0, 0, 32 * count);
      } else {
        while (start < filled) {
          const len = chunker.cut(buf, start, filled);
          // A cut at the very end of what we have is only final at end of file or at max size.
          if (!eof && start + len === filled && len < init.chunker.max) break;
          starts.push(start);
          lens.push(len);
          start += len;
        }
        ids = Buffer.allocUnsafeSlow(32 * lens.length);
        for (let i = 0; i < lens.length; i++) chunkId(buf.subarray(starts[i]!, starts[i]! + lens[i]!)).copy(ids, i * 32);
      }
      if (lens.length > 0) {
        const answer = new Promise<{ mask: Uint8Array; abort: boolean }>((r) => wants.set(seq, r));
        post({ seq, kind: 'ids', ids: owned(ids), lens });
        const want = await answer;
        if (want.abort) throw new AppError('CANCELLED', 'Cancelled.');
        for (let i = 0; i < lens.length; i++) {
          const id = ids.subarray(i * 32, i * 32 + 32);
          content.push(Buffer.from(id));
          if (!want.mask[i]) continue;
          const transfer: ArrayBuffer[] = [];
          const out = sealed(buf.subarray(starts[i]!, starts[i]! + lens[i]!), transfer);
          post({ seq, kind: 'blob', id: owned(id), sealed: out, rawLength: lens[i]! }, transfer);
        }
      }
      buf.copy(buf, 0, start, filled);
      filled -= start;
      if (eof && filled === 0) break;
    }
    const data = owned(Buffer.concat(content));
    const x = readXattrs(path);
    post({ seq, kind: 'result', data, bytes: total, ...(x.xattrs ? { xattrs: x.xattrs } : {}), ...(x.error ? { xattrError: x.error } : {}) }, [data.buffer as ArrayBuffer]);
  } catch (err) {
    fail(seq, err);
  } finally {
    activeBig--;
    wants.delete(seq);
    closeSync(fd);
    if (buf.length === BIG && spare.length + activeBig < MAX_BIG_BUFFERS) {
      // A chunk longer than a scan (a run of zeros in a disk image is cut at the largest size)
      // touched the buffer to its end; the next file needs only its first SCAN_AT + READ_BLOCK.
      if (reach > SCAN_AT + READ_BLOCK) core?.release?.(buf, SCAN_AT + READ_BLOCK);
      spare.push(buf);
    }
  }
}

/**
 * A batch of small files (each at most `min` bytes, so each is exactly one
 * chunk): read, hash and encode them all in one request. Encoding before the
 * dedup decision wastes a little work on duplicate small files and saves two
 * thread hops per file, which cost more.
 */
let smallBuf: Buffer | undefined;

async function smallJob(seq: number, paths: Uint8Array[]): Promise<void> {
  const results: SmallResult<Sealed>[] = new Array(paths.length);
  const datas: (Buffer | undefined)[] = new Array(paths.length);
  const attrs: { xattrs?: Record<string, string>; error?: string }[] = new Array(paths.length);
  const extra = (i: number) => ({ ...(attrs[i]?.xattrs ? { xattrs: attrs[i]!.xattrs } : {}), ...(attrs[i]?.error ? { xattrError: attrs[i]!.error } : {}) });
  const limit = init.chunker.min;
  // One read buffer for every batch; what is kept is copied out at its exact size.
  smallBuf ??= Buffer.allocUnsafeSlow(limit + 1);
  const buf = smallBuf;
  paths.forEach((p, i) => {
    let fd: number | undefined;
    try {
      fd = openSource(Buffer.from(p));
      let filled = 0;
      for (;;) {
        const n = readSync(fd, buf, filled, buf.length - filled, null);
        filled += n;
        if (n === 0 || filled > limit) break;
      }
      if (filled > limit) results[i] = { ok: false, grew: true };
      else {
        datas[i] = Buffer.from(buf.subarray(0, filled));
        garbage.spent(filled);
        attrs[i] = readXattrs(Buffer.from(p));
      }
    } catch (err) {
      results[i] = { ok: false, grew: false, errno: (err as NodeJS.ErrnoException).code ?? 'EIO', message: (err as Error).message };
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  });
  try {
    // Empty files have no chunk to store.
    datas.forEach((d, i) => {
      if (d?.length === 0) results[i] = { ok: true, id: new Uint8Array(32), rawLength: 0, ...extra(i) };
    });
    const read = datas.flatMap((d, i) => (d && d.length > 0 ? [i] : []));
    const ids = Buffer.allocUnsafeSlow(32 * read.length);
    read.forEach((i, k) => dataId(datas[i]!).copy(ids, k * 32));
    let mask: Uint8Array = new Uint8Array(read.length);
    if (read.length > 0) {
      // Ask which are new before compressing: in incremental runs most small files are known.
      const answer = new Promise<{ mask: Uint8Array; abort: boolean }>((r) => wants.set(seq, r));
      post({ seq, kind: 'ids', ids: owned(Buffer.from(ids)), lens: read.map((i) => datas[i]!.length) });
      const want = await answer;
      if (want.abort) throw new AppError('CANCELLED', 'Cancelled.');
      mask = want.mask;
    }
    const transfer: ArrayBuffer[] = [];
    read.forEach((i, k) => {
      const data = datas[i]!;
      const id = owned(Buffer.from(ids.subarray(k * 32, k * 32 + 32)));
      if (!mask[k]) {
        results[i] = { ok: true, id, rawLength: data.length, ...extra(i) };
        return;
      }
      results[i] = { ok: true, id, sealed: sealed(data, transfer), rawLength: data.length, ...extra(i) };
    });
    post({ seq, kind: 'small', results }, transfer);
  } catch (err) {
    fail(seq, err);
  } finally {
    wants.delete(seq);
  }
}

/**
 * A directory's entries with their lstat metadata, for the backup's walk: the system calls
 * and the BigInts they return stay on this thread, the main thread gets three typed arrays.
 */
function listJob(seq: number, dir: Buffer): void {
  try {
    const listing = listDirectory(dir);
    post({ seq, kind: 'listing', listing }, [listing.names.buffer as ArrayBuffer, listing.ends.buffer as ArrayBuffer, listing.meta.buffer as ArrayBuffer]);
  } catch (err) {
    fail(seq, err);
  }
}
/** What a module run in a worker exports: one synchronous job, and the buffers its output moves back. */
export type WorkerJob = (input: never) => { output: unknown; transfer?: ArrayBuffer[] };
/** The modules loaded for `run`: only this program's own (OWN_MODULE_DIRS), nothing named from outside. */
const jobModules = new Map<string, Promise<{ workerJob: WorkerJob }>>();

async function runJob(seq: number, module: string, input: unknown): Promise<void> {
  try {
    if (!OWN_MODULE_DIRS.some((dir) => module.startsWith(dir)) || module.includes('..')) throw new AppError('INTERNAL', `a worker runs only Strongbox's own modules, not ${module}`);
    let m = jobModules.get(module);
    if (!m) jobModules.set(module, (m = import(module) as Promise<{ workerJob: WorkerJob }>));
    const { output, transfer } = (await m).workerJob(input as never);
    post({ seq, kind: 'ran', output }, transfer ?? []);
  } catch (err) {
    fail(seq, err);
  }
}
const HOLE = 64 * 1024;
const zeros = Buffer.alloc(HOLE);

/** Writes `data` at `offset`, leaving holes for every all-zero 64 KiB segment (sparse files stay sparse). */
function writeSparse(fd: number, data: Buffer, offset: number): void {
  let run = -1;
  for (let seg = 0; seg < data.length; seg += HOLE) {
    const end = Math.min(seg + HOLE, data.length);
    const zero = data.subarray(seg, end).equals(zeros.subarray(0, end - seg));
    if (!zero && run < 0) run = seg;
    if (run >= 0 && (zero || end === data.length)) {
      const stop = zero ? seg : end;
      for (let w = run; w < stop; ) w += writeSync(fd, data, w, stop - w, offset + w);
      run = -1;
    }
  }
}

/**
 * A restore target: a new file (O_EXCL: never an existing one), or the regular
 * file the main thread created for it; never through a symbolic link, never a
 * FIFO or a device (docs/SECURITY.md).
 */
function openTarget(p: Buffer, create: boolean): number {
  if (create) return openSync(p, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, 0o600);
  const fd = openSync(p, fsc.O_WRONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK);
  if (!fstatSync(fd).isFile()) {
    closeSync(fd);
    throw new Error('the restore target is not a regular file');
  }
  return fd;
}

/** Decodes the blobs of a pack range and writes each to its target files at their offsets. */
function restoreJob(seq: number, data: Uint8Array, items: RestoreItem[]): void {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const results: RestoreOutcome[] = [];
  // The range is this job's alone (moved here, or a shared buffer the main thread waits on):
  // blobs are decrypted in it, unless two items claim the same bytes (a crafted index could).
  const spans = items.map((i) => [i.off, i.off + i.len] as const).sort((a, b) => a[0] - b[0]);
  let inPlace = true;
  for (let i = 1; i < spans.length && inPlace; i++) inPlace = spans[i]![0] >= spans[i - 1]![1];
  for (const item of items) {
    try {
      if (item.off + item.len > buf.length) throw new AppError('CORRUPT', `${item.what} lies outside the bytes read for it.`);
      const sealed = buf.subarray(item.off, item.off + item.len);
      const raw = inPlace ? codec.decodeInPlace(sealed, item.id, item.what) : codec.decodeTransient(sealed, item.id, item.what);
      for (const t of item.targets) {
        const c = t.create;
        const fd = openTarget(Buffer.from(t.path), !!c);
        try {
          writeSparse(fd, raw, t.offset);
          if (c) {
            ftruncateSync(fd, c.size);
            if (c.chown) fchownSync(fd, c.uid, c.gid);
            fchmodSync(fd, c.mode);
            futimesSync(fd, c.mtimeSec, c.mtimeSec);
          }
        } finally {
          closeSync(fd);
        }
      }
      // With the native core a blob's plaintext is written from one reused buffer: no garbage.
      if (!codec.native) restoreGarbage.spent(2 * raw.length);
      results.push({ ok: true, rawLength: raw.length });
    } catch (err) {
      results.push({ ok: false, message: err instanceof Error ? err.message : String(err) });
    }
  }
  // A range in a shared buffer goes back to the main thread's pool: no garbage.
  if (!(data.buffer instanceof SharedArrayBuffer)) restoreGarbage.spent(data.byteLength);
  post({ seq, kind: 'restored', results });
}

port.on('message', (req: WorkerRequest) => {
  switch (req.op) {
    case 'want':
      wants.get(req.seq)?.({ mask: req.mask, abort: req.abort });
      return;
    case 'free':
      ring?.free(req.starts);
      return;
    case 'chunk':
      void chunkJob(req.seq, Buffer.from(req.path), req.sizeHint);
      return;
    case 'small':
      void smallJob(req.seq, req.paths);
      return;
    case 'list':
      listJob(req.seq, Buffer.from(req.path));
      return;
    case 'run':
      void runJob(req.seq, req.module, req.input);
      return;
    case 'restore':
      restoreJob(req.seq, req.data, req.items);
      return;
    case 'encode':
    case 'decode':
      try {
        const out = owned(req.op === 'encode' ? codec.encode(req.raw) : codec.decode(req.sealed, req.id, req.what));
        garbage.spent(2 * out.length);
        post({ seq: req.seq, kind: 'result', data: out }, [out.buffer as ArrayBuffer]);
      } catch (err) {
        fail(req.seq, err);
      }
      return;
  }
});

// Terminating a worker while it still loads its native addons aborts the whole process (an addon's
// init asserts on a failed N-API call): the pool waits for this before it terminates a worker.
if (ring) post({ seq: 0, kind: 'ring', sab: ring.sab });
post({ seq: 0, kind: 'ready' });
