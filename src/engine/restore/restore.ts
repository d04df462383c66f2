import * as fs from 'node:fs';
import { randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { AppError, nullSink, systemClock, throwIfAborted, type ProgressCounters, type ProgressSink } from '../../kernel/index.js';
import { MAX_BLOB_BYTES, type BlobWriter, type Repository, type RestoreItem, type WholeFile } from '../../repo/index.js';
import { joinPath, linkTargetBytes, nameBytes, loadTree, type SnapshotRef, type TreeNode } from '../../tree/index.js';
import { Tasks } from '../semaphore.js';
import { writeXattrs } from '../xattrs.js';
import { checkFreeSpace } from './space.js';

const run = promisify(execFile);

export interface RestoreOptions {
  repo: Repository;
  writer: BlobWriter;
  snapshot: SnapshotRef;
  target: string;
  /** Snapshot paths to restore (with everything below them); all when empty. */
  includes?: string[];
  /**
   * Also restore what grants privileges: device nodes, setuid/setgid bits and
   * security.* / trusted.* extended attributes. Off by default: a snapshot may
   * come from elsewhere (docs/SECURITY.md).
   */
  keepPrivileges?: boolean;
  /** Refuse up front when the target's file system has less free space than the snapshot's files hold (default true). */
  spaceCheck?: boolean;
  /** The source path the snapshot's root stood for (an application's files component): hard links name their first link by source path. */
  linkBase?: string;
  signal?: AbortSignal;
  sink?: ProgressSink;
}

export interface RestoreProblem {
  path: string;
  message: string;
}

export interface RestoreResult {
  files: number;
  dirs: number;
  bytes: number;
  errors: RestoreProblem[];
  warnings: RestoreProblem[];
}

/** Opens an existing regular file for writing: never through a link, never a FIFO or device (O_NONBLOCK keeps a FIFO from blocking). */
export function openRegular(p: Buffer): number {
  const fd = fs.openSync(p, fs.constants.O_WRONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  if (!fs.fstatSync(fd).isFile()) {
    fs.closeSync(fd);
    throw new Error('not a regular file');
  }
  return fd;
}

/**
 * Files gathered before their data is read; bounds memory on huge trees (a few
 * hundred bytes of heap a file, and more of garbage once a window is done). On a local
 * disk a pack read again by the next window costs little: 2,048 files took 7.7 MiB off
 * the restore's peak of the default dataset at the same time, 45 MiB off 200,000 small
 * files' (8,192 before; 1,024 was 1.07x the time; docs/PERFORMANCE.md). Stores that
 * stream have their own, larger windows below.
 */
const WINDOW_FILES = 2048;
const WINDOW_BYTES = 1024 * 1024 * 1024;
/**
 * Where the store streams (S3, Azure), each window is a request or more per pack it touches,
 * so windows are larger: the default dataset (19,759 files, 1.5 GiB, 48 packs) restored from
 * SeaweedFS in 100 requests with windows of 8,192 files and 1 GiB, in 61 with one window
 * (restic 0.19.1: 58). The bytes bound the blobs a window plans (about 8,000 of them).
 */
const STREAM_WINDOW_FILES = 32768;
const STREAM_WINDOW_BYTES = 8 * 1024 * 1024 * 1024;
/** Blobs closer than this in a pack are read in one request. */
const MAX_GAP = 1024 * 1024;
const MAX_RANGE = 4 * 1024 * 1024;
/**
 * Ranges read or decoded at once. Where ranges are read into shared buffers (local disks) two
 * are as fast as three — one is decoded while the next is read — and 8 MiB lower at the peak
 * (108 against 116 MiB, docs/PERFORMANCE.md); other stores keep three requests going.
 */
const RANGES_IN_FLIGHT = 3;
const SHARED_RANGES_IN_FLIGHT = 2;
/**
 * Where the store streams (S3, Azure: a request costs more than its bytes), a
 * window's blobs of one pack are read in one request, skipping gaps of up to
 * this by reading through them, and handed to the workers in batches of about
 * STREAM_BATCH bytes as they arrive.
 */
const STREAM_MAX_GAP = 8 * 1024 * 1024;
const STREAM_BATCH = 2 * 1024 * 1024;
const STREAM_BATCHES_IN_FLIGHT = 2;
/** No sealed blob is longer than the largest plaintext a reader accepts plus its framing. */
const MAX_SEALED_BLOB = MAX_BLOB_BYTES + 64 * 1024;

/**
 * Restores a snapshot (or parts of it) under a target directory. Work is planned
 * per window of files: the blobs they need are sorted by pack and offset and read
 * in coalesced ranges, and workers decode them and write them straight into the
 * files, so the main thread only walks, reads and finishes files. A damaged blob
 * fails only the files that need it: they are reported, the rest is restored.
 */
export async function restore(opts: RestoreOptions): Promise<RestoreResult> {
  const r = new RestoreRun(opts);
  const target = opts.target.replace(/\/+$/, '') || '/';
  // Only a whole restore is measured: the snapshot's summary is not broken down by path.
  if (opts.spaceCheck !== false && !opts.includes?.length) checkFreeSpace(target, opts.snapshot.snapshot.summary.bytes);
  fs.mkdirSync(target, { recursive: true });
  await r.run(Buffer.from(target), (opts.includes ?? []).map(normalizeInclude));
  return r.result();
}

const DOT = Buffer.from('.');
const DOTDOT = Buffer.from('..');

function normalizeInclude(p: string): string {
  const parts = p.split('/').filter((x) => x.length > 0 && x !== '.');
  if (parts.includes('..')) throw new AppError('INVALID_ARGUMENT', `--include ${p}: ".." is not allowed.`);
  return '/' + parts.join('/');
}

/** 'all': restore this and everything below; 'ancestor': only create it on the way down; 'none': skip. */
export function selection(path: string, includes: readonly string[]): 'all' | 'ancestor' | 'none' {
  if (includes.length === 0) return 'all';
  let ancestor = false;
  for (const inc of includes) {
    if (inc === '/' || path === inc || path.startsWith(inc + '/')) return 'all';
    if (inc.startsWith(path + '/')) ancestor = true;
  }
  return ancestor ? 'ancestor' : 'none';
}

interface PendingFile {
  out: Buffer;
  snapPath: Buffer;
  node: TreeNode;
  remaining: number;
  damaged: string[];
  /** One-blob files are created and finished by the worker that writes them. */
  whole: boolean;
}

interface Need {
  id: Buffer;
  pack: string;
  offset: number;
  length: number;
  rawLength: number;
  targets: { file: PendingFile; offset: number }[];
}

class RestoreRun {
  readonly counters: ProgressCounters = { files: 0, dirs: 0, bytes: 0, newBytes: 0 };
  private readonly errors: RestoreProblem[] = [];
  private readonly warnings: RestoreProblem[] = [];
  private readonly sink: ProgressSink;
  private readonly isRoot = process.getuid?.() === 0;
  private lastEmit = 0;
  private window: PendingFile[] = [];
  /**
   * Where the store reads into a given buffer (local disks): one shared buffer per range
   * in flight, read in place by the workers and reused, instead of a fresh buffer per
   * range that each worker's garbage collector had to catch up with.
   */
  private readonly sharedRanges: SharedArrayBuffer[] | undefined;
  private windowBytes = 0;
  private readonly dirMeta: { path: Buffer; node: TreeNode }[] = [];
  private readonly hardlinks: { path: Buffer; node: TreeNode }[] = [];
  /** Regular files with more than one link that this restore created: the only files a hard link may join (snapshot path hex → output path). */
  private readonly linkable = new Map<string, Buffer>();
  /** Permission bits that may be restored: no setuid/setgid unless keepPrivileges. */
  private readonly modeMask: number;

  constructor(private readonly opts: RestoreOptions) {
    this.sink = opts.sink ?? nullSink;
    this.sharedRanges = opts.repo.readsPacksInto && !opts.repo.streamsPacks ? Array.from({ length: SHARED_RANGES_IN_FLIGHT }, () => new SharedArrayBuffer(MAX_RANGE)) : undefined;
    this.modeMask = opts.keepPrivileges ? 0o7777 : 0o1777;
    const total = opts.snapshot.snapshot.summary;
    this.counters.totalFiles = total.files;
    this.counters.totalBytes = total.bytes;
  }

  result(): RestoreResult {
    return { files: this.counters.files, dirs: this.counters.dirs, bytes: this.counters.bytes, errors: this.errors, warnings: this.warnings };
  }

  private error(p: Buffer, message: string): void {
    this.errors.push({ path: p.toString('utf8'), message });
    this.sink.emit({ type: 'error', path: p.toString('utf8'), message });
  }

  private warn(p: Buffer, message: string): void {
    this.warnings.push({ path: p.toString('utf8'), message });
    this.sink.emit({ type: 'warning', path: p.toString('utf8'), message });
  }

  private emit(force = false): void {
    const now = systemClock.now().getTime();
    if (!force && now - this.lastEmit < 200) return;
    this.lastEmit = now;
    this.sink.emit({ type: 'progress', counters: { ...this.counters } });
  }

  async run(target: Buffer, includes: string[]): Promise<void> {
    await this.visit(this.opts.snapshot.snapshot.tree, Buffer.from('/'), target, includes);
    await this.flushWindow();
    for (const h of this.hardlinks) this.restoreHardlink(h.path, h.node);
    // Directory metadata last and deepest first: creating entries changes a directory's mtime.
    for (const d of this.dirMeta.reverse()) this.applyMeta(d.path, d.node);
    this.emit(true);
  }

  private async visit(treeId: string, snapPath: Buffer, outPath: Buffer, includes: string[]): Promise<void> {
    const tree = await loadTree(this.opts.repo, treeId);
    const seen = new Set<string>();
    for (const node of tree.nodes) {
      throwIfAborted(this.opts.signal);
      const name = nameBytes(node);
      if (name.includes(0x2f) || name.length === 0 || name.equals(DOT) || name.equals(DOTDOT)) {
        this.error(joinPath(snapPath, name), 'refusing an unsafe name in the snapshot');
        continue;
      }
      // A crafted tree could name an entry twice (a symlink, then a directory through it).
      const key = name.toString('hex');
      if (seen.has(key)) {
        this.error(joinPath(snapPath, name), 'refusing a name that appears twice in one directory of the snapshot');
        continue;
      }
      seen.add(key);
      const sp = joinPath(snapPath, name);
      const sel = selection(sp.toString('utf8'), includes);
      if (sel === 'none') continue;
      const out = joinPath(outPath, name);
      if (node.type === 'dir') {
        try {
          fs.mkdirSync(out, { recursive: true });
          // Never restore through a symbolic link that stands where a directory belongs.
          if (!fs.lstatSync(out).isDirectory()) throw new Error('a symbolic link or file stands where the directory goes');
        } catch (err) {
          this.error(sp, `cannot create directory: ${(err as Error).message}`);
          continue;
        }
        if (sel === 'all') {
          this.dirMeta.push({ path: out, node });
          this.counters.dirs++;
        }
        if (node.subtree) await this.visit(node.subtree, sp, out, includes);
        continue;
      }
      if (sel !== 'all') continue;
      if (node.type === 'hardlink') this.hardlinks.push({ path: out, node });
      else if (node.type === 'file') await this.addFile(out, sp, node);
      else await this.restoreSpecial(out, sp, node);
    }
  }

  private removeExisting(out: Buffer): void {
    try {
      const st = fs.lstatSync(out);
      if (st.isDirectory()) fs.rmSync(out, { recursive: true, force: true });
      else fs.unlinkSync(out);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }

  private async addFile(out: Buffer, snapPath: Buffer, node: TreeNode): Promise<void> {
    const whole = node.content?.length === 1;
    try {
      this.removeExisting(out);
      if (!whole) this.create(out);
    } catch (err) {
      this.error(snapPath, `cannot create file: ${(err as Error).message}`);
      return;
    }
    if ((node.links ?? 1) > 1) this.linkable.set(snapPath.toString('hex'), out);
    const file: PendingFile = { out, snapPath, node, remaining: node.content?.length ?? 0, damaged: [], whole };
    if (file.remaining === 0) {
      this.finishFile(file);
      return;
    }
    this.window.push(file);
    this.windowBytes += node.size ?? 0;
    const streamed = this.opts.repo.streamsPacks;
    if (this.window.length >= (streamed ? STREAM_WINDOW_FILES : WINDOW_FILES) || this.windowBytes >= (streamed ? STREAM_WINDOW_BYTES : WINDOW_BYTES)) await this.flushWindow();
  }

  /** Reads and writes every blob the files of the window need, pack by pack, in coalesced ranges. */
  private async flushWindow(): Promise<void> {
    const files = this.window;
    this.window = [];
    this.windowBytes = 0;
    if (files.length === 0) return;
    const needs = new Map<string, Need>();
    for (const f of files) {
      let offset = 0;
      for (const hex of f.node.content ?? []) {
        const id = Buffer.from(hex, 'hex');
        const loc = this.opts.repo.locate(id);
        if (!loc) {
          f.damaged.push(`chunk ${hex.slice(0, 16)} at offset ${offset}: not in the index`);
          f.remaining--;
          continue;
        }
        // An index from elsewhere could claim a blob of gigabytes: it would be read (and held) whole.
        if (loc.length > MAX_SEALED_BLOB) {
          f.damaged.push(`chunk ${hex.slice(0, 16)} at offset ${offset}: the index gives it an impossible length (${loc.length} bytes)`);
          f.remaining--;
          continue;
        }
        let need = needs.get(hex);
        if (!need) {
          need = { id, pack: loc.pack, offset: loc.offset, length: loc.length, rawLength: loc.rawLength, targets: [] };
          needs.set(hex, need);
        }
        need.targets.push({ file: f, offset });
        offset += loc.rawLength;
      }
    }
    for (const f of files) if (f.remaining === 0) this.finishFile(f);
    const sorted = [...needs.values()].sort((a, b) => a.pack.localeCompare(b.pack) || a.offset - b.offset);
    const streamed = this.opts.repo.streamsPacks;
    const maxGap = streamed ? STREAM_MAX_GAP : MAX_GAP;
    const maxRange = streamed ? Infinity : MAX_RANGE;
    const ranges: Need[][] = [];
    for (const n of sorted) {
      const cur = ranges[ranges.length - 1];
      const last = cur?.[cur.length - 1];
      if (cur && last && last.pack === n.pack && n.offset - (last.offset + last.length) <= maxGap && n.offset + n.length - cur[0]!.offset <= maxRange) cur.push(n);
      else ranges.push([n]);
    }
    const tasks = new Tasks();
    let next = 0;
    const worker = async () => {
      for (;;) {
        throwIfAborted(this.opts.signal);
        const range = ranges[next++];
        if (!range) return;
        if (streamed) await this.restoreStreamed(range);
        else await this.restoreRange(range);
      }
    };
    for (let i = 0; i < Math.min(this.sharedRanges ? SHARED_RANGES_IN_FLIGHT : RANGES_IN_FLIGHT, ranges.length); i++) tasks.add(worker());
    await tasks.settle();
    tasks.throwIfFailed();
  }

  private async restoreRange(range: Need[]): Promise<void> {
    const first = range[0]!;
    const last = range[range.length - 1]!;
    const start = first.offset;
    const length = last.offset + last.length - start;
    const shared = length <= MAX_RANGE ? this.sharedRanges?.pop() : undefined;
    if (shared) {
      try {
        try {
          await this.opts.repo.readPackInto(first.pack, { offset: start, length }, new Uint8Array(shared, 0, length));
        } catch (err) {
          this.failBatch(range, err);
          return;
        }
        await this.writeBatch(range, Buffer.from(shared, 0, length), start);
      } finally {
        this.sharedRanges!.push(shared);
      }
      return;
    }
    let data: Buffer;
    try {
      data = await this.opts.repo.readPack(first.pack, { offset: start, length });
    } catch (err) {
      this.failBatch(range, err);
      return;
    }
    await this.writeBatch(range, data, start);
  }

  /**
   * One request for the whole span; blobs go to the workers in batches as
   * their bytes arrive, so memory holds a batch or two, not the span.
   */
  private async restoreStreamed(range: Need[]): Promise<void> {
    const first = range[0]!;
    const last = range[range.length - 1]!;
    const start = first.offset;
    const end = last.offset + last.length;
    /** Bytes received and not yet handed on, from `held` onwards in the pack. */
    let pieces: Buffer[] = [];
    let held = start;
    let heldBytes = 0;
    let next = 0;
    const inFlight = new Set<Promise<void>>();
    const handOn = async (upto: number): Promise<void> => {
      const batch = range.slice(next, upto);
      next = upto;
      const from = batch[0]!.offset;
      const to = batch[batch.length - 1]!.offset + batch[batch.length - 1]!.length;
      // Copy the batch's span into a buffer of its own (it moves to a worker); drop what precedes it.
      const data = Buffer.allocUnsafeSlow(to - from);
      let pos = held;
      let filled = 0;
      const keep: Buffer[] = [];
      for (const p of pieces) {
        const pEnd = pos + p.length;
        if (pEnd > from && pos < to) filled += p.copy(data, filled, Math.max(0, from - pos), Math.min(p.length, to - pos));
        if (pEnd > to) keep.push(pos >= to ? p : p.subarray(to - pos));
        pos = pEnd;
      }
      pieces = keep;
      heldBytes -= to - held;
      held = to;
      const p = this.writeBatch(batch, data, from).finally(() => inFlight.delete(p));
      p.catch(() => undefined); // awaited below (race, all, allSettled); this only keeps it from counting as unhandled meanwhile
      inFlight.add(p);
      if (inFlight.size >= STREAM_BATCHES_IN_FLIGHT) await Promise.race(inFlight);
    };
    try {
      for await (const piece of this.opts.repo.readPackStream(first.pack, { offset: start, length: end - start })) {
        throwIfAborted(this.opts.signal);
        pieces.push(piece);
        heldBytes += piece.length;
        const have = held + heldBytes;
        let upto = next;
        while (upto < range.length && range[upto]!.offset + range[upto]!.length <= have) upto++;
        if (upto > next && (upto === range.length || have - range[next]!.offset >= STREAM_BATCH)) await handOn(upto);
      }
      if (next < range.length) throw new AppError('CORRUPT', `pack ${first.pack.slice(0, 16)} ended early`);
    } catch (err) {
      await Promise.allSettled(inFlight);
      this.failBatch(range.slice(next), err);
      return;
    }
    await Promise.all(inFlight);
  }

  /** Decodes and writes a batch whose bytes (from pack offset `start`) are in `data`; records each blob's outcome. */
  private async writeBatch(batch: Need[], data: Buffer, start: number): Promise<void> {
    let outcomes: ({ ok: true; rawLength: number } | { ok: false; message: string })[];
    try {
      const items: RestoreItem[] = batch.map((n) => ({
        off: n.offset - start,
        len: n.length,
        id: new Uint8Array(n.id),
        what: `data blob ${n.id.toString('hex').slice(0, 16)} in pack ${n.pack.slice(0, 16)}`,
        targets: n.targets.map((t) => ({ path: new Uint8Array(t.file.out), offset: t.offset, ...(t.file.whole ? { create: this.wholeFile(t.file.node) } : {}) })),
      }));
      outcomes = await this.opts.writer.writeRange(data, items);
    } catch (err) {
      this.failBatch(batch, err);
      return;
    }
    this.settle(batch, outcomes);
  }

  /** A batch none of whose blobs could be read: its files are reported damaged, unless the whole restore must stop. */
  private failBatch(batch: Need[], err: unknown): void {
    if (err instanceof AppError && (err.code === 'CANCELLED' || err.code === 'STORAGE_UNAVAILABLE' || err.code === 'PERMISSION_DENIED')) throw err;
    const message = err instanceof Error ? err.message : String(err);
    this.settle(batch, batch.map(() => ({ ok: false, message })));
  }

  private settle(batch: Need[], outcomes: ({ ok: true; rawLength: number } | { ok: false; message: string })[]): void {
    batch.forEach((n, i) => {
      const o = outcomes[i]!;
      for (const t of n.targets) {
        if (o.ok) this.counters.bytes += o.rawLength;
        else t.file.damaged.push(`chunk ${n.id.toString('hex').slice(0, 16)} at offset ${t.offset} (pack ${n.pack.slice(0, 16)}): ${o.message}`);
        if (--t.file.remaining === 0) this.finishFile(t.file);
      }
    });
    this.emit();
  }

  /** A new, empty regular file: never an existing one, never through a link. */
  private create(out: Buffer): void {
    fs.closeSync(fs.openSync(out, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o600));
  }

  private finishFile(f: PendingFile): void {
    if (f.whole && f.damaged.length === 0) {
      this.counters.files++;
      if (f.node.xattrs) this.applyXattrs(f.out, f.node.xattrs);
      return;
    }
    try {
      if (f.whole) this.create(f.out);
      const fd = openRegular(f.out);
      try {
        fs.ftruncateSync(fd, f.node.size ?? 0);
      } finally {
        fs.closeSync(fd);
      }
    } catch (err) {
      this.error(f.snapPath, `cannot set the file size: ${(err as Error).message}`);
      return;
    }
    this.applyMeta(f.out, f.node);
    if (f.damaged.length > 0) this.error(f.snapPath, `restored with damaged ranges left as zeros: ${f.damaged.join('; ')}`);
    else this.counters.files++;
  }

  private wholeFile(node: TreeNode): WholeFile {
    return { size: node.size ?? 0, mode: node.mode & this.modeMask, uid: node.uid, gid: node.gid, chown: this.isRoot, mtimeSec: Number(BigInt(node.mtimeNs) / 1000n) / 1e6 };
  }

  private async restoreSpecial(out: Buffer, snapPath: Buffer, node: TreeNode): Promise<void> {
    try {
      this.removeExisting(out);
      switch (node.type) {
        case 'symlink':
          fs.symlinkSync(linkTargetBytes(node), out);
          break;
        case 'fifo':
          await this.makeNode(out, ['mkfifo', '-m', (node.mode & 0o777).toString(8)]);
          break;
        case 'chardev':
        case 'blockdev': {
          if (!this.opts.keepPrivileges) {
            this.warn(snapPath, 'device node not restored: device nodes are restored only with --keep-privileges');
            return;
          }
          if (!this.isRoot) {
            this.warn(snapPath, 'device node not restored: only root can create device nodes');
            return;
          }
          const rdev = BigInt(node.rdev ?? '0');
          const major = Number((rdev >> 8n) & 0xfffn);
          const minor = Number((rdev & 0xffn) | ((rdev >> 12n) & 0xfff00n));
          await this.makeNode(out, ['mknod', '-m', '600', '{}', node.type === 'chardev' ? 'c' : 'b', String(major), String(minor)]);
          break;
        }
        case 'socket':
          this.warn(snapPath, 'socket not restored: sockets are created by the program that listens on them');
          return;
        default:
          return;
      }
      this.applyMeta(out, node);
      this.counters.files++;
    } catch (err) {
      this.error(snapPath, err instanceof Error ? err.message : String(err));
    }
  }

  /**
   * Creates a FIFO or device node at `out` (bytes) with mkfifo/mknod: made under
   * a fresh ASCII name in the same directory, then linked to its real name,
   * which fails if anything stands there — so a name that is not UTF-8 is never
   * turned into another file's path, and nothing existing is ever written into.
   */
  private async makeNode(out: Buffer, argv: string[]): Promise<void> {
    const slash = out.lastIndexOf(0x2f);
    const dir = slash <= 0 ? Buffer.from('/') : out.subarray(0, slash);
    const dirText = dir.toString('utf8');
    if (!Buffer.from(dirText, 'utf8').equals(dir)) throw new Error('cannot create a special file in a directory whose name is not UTF-8');
    const tmp = `${dirText === '/' ? '' : dirText}/.strongbox-node-${randomBytes(8).toString('hex')}`;
    const args = argv.slice(1);
    const at = args.indexOf('{}');
    if (at >= 0) args[at] = tmp;
    else args.push(tmp);
    await run(argv[0]!, args);
    try {
      fs.linkSync(tmp, out);
    } finally {
      fs.unlinkSync(tmp);
    }
  }

  private restoreHardlink(out: Buffer, node: TreeNode): void {
    let first = Buffer.from(node.linkTo ?? '', 'base64');
    const base = this.opts.linkBase ? Buffer.from(this.opts.linkBase.replace(/\/+$/, '')) : undefined;
    if (base && base.length > 0 && first.length > base.length + 1 && first.subarray(0, base.length).equals(base) && first[base.length] === 0x2f) first = first.subarray(base.length);
    // Only a regular file this very restore created may be linked to: never a path through a link, never outside the target.
    const src = this.linkable.get(first.toString('hex'));
    if (!src) {
      this.error(out, `refusing a hard link to ${first.toString('utf8')}: it is not a regular file restored by this restore`);
      return;
    }
    try {
      const st = fs.lstatSync(src);
      if (!st.isFile()) throw new Error('it is no longer a regular file');
      this.removeExisting(out);
      fs.linkSync(src, out);
      this.counters.files++;
    } catch (err) {
      this.error(out, `cannot recreate hard link to ${first.toString('utf8')}: ${(err as Error).message}`);
    }
  }

  private applyMeta(p: Buffer, node: TreeNode): void {
    try {
      if (this.isRoot) fs.lchownSync(p, node.uid, node.gid);
      if (node.type !== 'symlink') fs.chmodSync(p, node.mode & this.modeMask);
      const sec = Number(BigInt(node.mtimeNs) / 1000n) / 1e6;
      if (node.xattrs && node.type !== 'symlink') this.applyXattrs(p, node.xattrs);
      fs.lutimesSync(p, sec, sec);
    } catch (err) {
      this.warn(p, `metadata not fully restored: ${(err as Error).message}`);
    }
  }

  private applyXattrs(p: Buffer, xattrs: Record<string, string>): void {
    let allowed = xattrs;
    if (!this.opts.keepPrivileges) {
      const privileged = Object.keys(xattrs).filter((n) => n.startsWith('security.') || n.startsWith('trusted.'));
      if (privileged.length) {
        allowed = Object.fromEntries(Object.entries(xattrs).filter(([n]) => !privileged.includes(n)));
        this.warn(p, `extended attribute(s) ${privileged.join(', ')} not restored: security.* and trusted.* are restored only with --keep-privileges`);
      }
    }
    const problem = writeXattrs(p, allowed);
    if (problem) this.warn(p, problem);
  }
}
