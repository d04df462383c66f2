import { constants as fsc } from 'node:fs';
import * as fs from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { AppError, nullSink, throwIfAborted, type ProgressCounters, type ProgressSink } from '../../kernel/index.js';
import type { BlobDecoder, Repository } from '../../repo/index.js';
import { joinPath, linkTargetBytes, nameBytes, loadTree, type SnapshotRef, type TreeNode } from '../../tree/index.js';
import { Semaphore, Tasks } from '../semaphore.js';

const run = promisify(execFile);

export interface RestoreOptions {
  repo: Repository;
  decoder: BlobDecoder;
  snapshot: SnapshotRef;
  target: string;
  /** Snapshot paths to restore (with everything below them); all when empty. */
  includes?: string[];
  signal?: AbortSignal;
  sink?: ProgressSink;
  fileConcurrency?: number;
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

const PREFETCH = 4;
const HOLE = 64 * 1024;

/**
 * Restores a snapshot (or parts of it) under a target directory. A damaged blob
 * fails only the files that need it: they are reported, the rest is restored.
 * Zero-filled chunks are not written, so sparse files stay sparse.
 */
export async function restore(opts: RestoreOptions): Promise<RestoreResult> {
  const r = new RestoreRun(opts);
  await fs.mkdir(opts.target, { recursive: true });
  const includes = (opts.includes ?? []).map(normalizeInclude);
  const dirMeta: { path: Buffer; node: TreeNode }[] = [];
  const hardlinks: { path: Buffer; node: TreeNode }[] = [];
  const files = new Tasks();
  const targetBytes = Buffer.from(opts.target.replace(/\/+$/, '') || '/');

  const visit = async (treeId: string, snapPath: Buffer, outPath: Buffer): Promise<void> => {
    const tree = await loadTree(opts.repo, treeId);
    for (const node of tree.nodes) {
      throwIfAborted(opts.signal);
      const name = nameBytes(node);
      if (name.includes(0x2f) || name.length === 0 || name.equals(DOT) || name.equals(DOTDOT)) {
        r.error(joinPath(snapPath, name), 'refusing an unsafe name in the snapshot');
        continue;
      }
      const sp = joinPath(snapPath, name);
      const sel = selection(sp.toString('utf8'), includes);
      if (sel === 'none') continue;
      const out = joinPath(outPath, name);
      if (node.type === 'dir') {
        if (sel === 'ancestor' || sel === 'all') {
          await fs.mkdir(out, { recursive: true });
          if (sel === 'all') dirMeta.push({ path: out, node });
          if (node.subtree) await visit(node.subtree, sp, out);
          if (sel === 'all') r.counters.dirs++;
        }
        continue;
      }
      if (sel !== 'all') continue;
      if (node.type === 'hardlink') {
        hardlinks.push({ path: out, node });
        continue;
      }
      await r.slots.acquire();
      files.add(r.restoreLeaf(out, sp, node).finally(() => r.slots.release()));
    }
  };

  const root = opts.snapshot.snapshot.tree;
  try {
    await visit(root, Buffer.from('/'), targetBytes);
  } finally {
    await files.settle();
  }
  files.throwIfFailed();
  for (const h of hardlinks) await r.restoreHardlink(h.path, h.node, targetBytes);
  // Directory metadata last and deepest first: creating entries changes a directory's mtime.
  for (const d of dirMeta.reverse()) await r.applyMeta(d.path, d.node);
  r.emit(true);
  return { ...r.result(), files: r.counters.files };
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

class RestoreRun {
  readonly counters: ProgressCounters = { files: 0, dirs: 0, bytes: 0, newBytes: 0 };
  readonly slots: Semaphore;
  private readonly errors: { path: string; message: string }[] = [];
  private readonly warnings: { path: string; message: string }[] = [];
  private readonly sink: ProgressSink;
  private readonly isRoot = process.getuid?.() === 0;
  private lastEmit = 0;
  private zero = Buffer.alloc(0);

  constructor(private readonly opts: RestoreOptions) {
    this.slots = new Semaphore(opts.fileConcurrency ?? 8);
    this.sink = opts.sink ?? nullSink;
    const total = opts.snapshot.snapshot.summary;
    this.counters.totalFiles = total.files;
    this.counters.totalBytes = total.bytes;
  }

  result() {
    return { dirs: this.counters.dirs, bytes: this.counters.bytes, errors: this.errors, warnings: this.warnings };
  }

  error(p: Buffer, message: string): void {
    this.errors.push({ path: p.toString('utf8'), message });
    this.sink.emit({ type: 'error', path: p.toString('utf8'), message });
  }

  warn(p: Buffer, message: string): void {
    this.warnings.push({ path: p.toString('utf8'), message });
    this.sink.emit({ type: 'warning', path: p.toString('utf8'), message });
  }

  emit(force = false): void {
    const now = Date.now();
    if (!force && now - this.lastEmit < 200) return;
    this.lastEmit = now;
    this.sink.emit({ type: 'progress', counters: { ...this.counters } });
  }

  private isZero(b: Buffer): boolean {
    if (this.zero.length < b.length) this.zero = Buffer.alloc(Math.max(b.length, HOLE));
    return b.equals(this.zero.subarray(0, b.length));
  }

  /** Writes `data` at `offset`, leaving holes for every all-zero 64 KiB segment. */
  private async writeSparse(fh: fs.FileHandle, data: Buffer, offset: number): Promise<void> {
    let runStart = -1;
    for (let seg = 0; seg <= data.length; seg += HOLE) {
      const end = Math.min(seg + HOLE, data.length);
      const zero = seg >= data.length || this.isZero(data.subarray(seg, end));
      if (!zero && runStart < 0) runStart = seg;
      if ((zero || end === data.length) && runStart >= 0) {
        const stop = zero ? seg : end;
        for (let w = runStart; w < stop; ) w += (await fh.write(data, w, stop - w, offset + w)).bytesWritten;
        runStart = -1;
      }
    }
  }

  async restoreLeaf(out: Buffer, snapPath: Buffer, node: TreeNode): Promise<void> {
    try {
      throwIfAborted(this.opts.signal);
      await fs.rm(out, { force: true, recursive: false }).catch(() => undefined);
      switch (node.type) {
        case 'file':
          await this.restoreFile(out, snapPath, node);
          break;
        case 'symlink':
          await fs.symlink(linkTargetBytes(node), out);
          break;
        case 'fifo':
          await run('mkfifo', ['-m', (node.mode & 0o7777).toString(8), out.toString('utf8')]);
          break;
        case 'chardev':
        case 'blockdev': {
          if (!this.isRoot) {
            this.warn(snapPath, 'device node not restored: only root can create device nodes');
            return;
          }
          const rdev = BigInt(node.rdev ?? '0');
          const major = Number((rdev >> 8n) & 0xfffn);
          const minor = Number((rdev & 0xffn) | ((rdev >> 12n) & 0xfff00n));
          await run('mknod', [out.toString('utf8'), node.type === 'chardev' ? 'c' : 'b', String(major), String(minor)]);
          break;
        }
        case 'socket':
          this.warn(snapPath, 'socket not restored: sockets are created by the program that listens on them');
          return;
        default:
          return;
      }
      await this.applyMeta(out, node);
      this.counters.files++;
      this.emit();
    } catch (err) {
      if (err instanceof AppError && err.code === 'CANCELLED') throw err;
      if (err instanceof AppError && (err.code === 'STORAGE_UNAVAILABLE' || err.code === 'PERMISSION_DENIED')) throw err;
      this.error(snapPath, err instanceof Error ? err.message : String(err));
    }
  }

  private async restoreFile(out: Buffer, snapPath: Buffer, node: TreeNode): Promise<void> {
    const fh = await fs.open(out, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_TRUNC, 0o600);
    const damaged: string[] = [];
    try {
      const ids = node.content ?? [];
      let offset = 0;
      const queue: { id: string; p: Promise<Buffer> }[] = [];
      let next = 0;
      const fetch = (id: string) => this.loadData(id).catch((e: unknown) => e as Error);
      const fill = () => {
        while (queue.length < PREFETCH && next < ids.length) {
          const id = ids[next++]!;
          queue.push({ id, p: fetch(id) as Promise<Buffer> });
        }
      };
      fill();
      while (queue.length > 0) {
        throwIfAborted(this.opts.signal);
        const item = queue.shift()!;
        fill();
        const got = (await item.p) as Buffer | Error;
        if (got instanceof Error) {
          if (got instanceof AppError && got.code === 'CANCELLED') throw got;
          const loc = this.opts.repo.locate(Buffer.from(item.id, 'hex'));
          damaged.push(`chunk ${item.id.slice(0, 16)} at offset ${offset}${loc ? ` (pack ${loc.pack.slice(0, 16)})` : ''}: ${got.message}`);
          offset += loc?.rawLength ?? 0;
          continue;
        }
        await this.writeSparse(fh, got, offset);
        offset += got.length;
        this.counters.bytes += got.length;
        this.emit();
      }
      await fh.truncate(node.size ?? offset);
    } finally {
      await fh.close();
    }
    if (damaged.length > 0) {
      throw new AppError('CORRUPT', `restored with damaged ranges left as zeros: ${damaged.join('; ')}`);
    }
    void snapPath;
  }

  private async loadData(id: string): Promise<Buffer> {
    const idBuf = Buffer.from(id, 'hex');
    const { sealed, loc } = await this.opts.repo.readSealedBlob(idBuf);
    return this.opts.decoder.decode(sealed, idBuf, `data blob ${id.slice(0, 16)} in pack ${loc.pack.slice(0, 16)}`);
  }

  async restoreHardlink(out: Buffer, node: TreeNode, targetRoot: Buffer): Promise<void> {
    const first = Buffer.from(node.linkTo ?? '', 'base64');
    const src = Buffer.concat([targetRoot.equals(Buffer.from('/')) ? Buffer.alloc(0) : targetRoot, first]);
    try {
      await fs.rm(out, { force: true });
      await fs.link(src, out);
      this.counters.files++;
    } catch (err) {
      this.error(out, `cannot recreate hard link to ${first.toString('utf8')}: ${(err as Error).message}`);
    }
  }

  async applyMeta(p: Buffer, node: TreeNode): Promise<void> {
    try {
      if (this.isRoot) await fs.lchown(p, node.uid, node.gid);
      if (node.type !== 'symlink') await fs.chmod(p, node.mode & 0o7777);
      const sec = Number(BigInt(node.mtimeNs) / 1000n) / 1e6;
      await fs.lutimes(p, sec, sec);
    } catch (err) {
      this.warn(p, `metadata not fully restored: ${(err as Error).message}`);
    }
  }
}
