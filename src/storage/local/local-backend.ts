import * as fsSync from 'node:fs';
import { constants as fsc } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { AppError, errnoCode } from '../../kernel/index.js';
import type { Backend, FileKind, Handle, ObjectInfo, ObjectWriter, RemoveOptions } from '../backend.js';
import { fileKinds } from '../backend.js';

/**
 * A repository in a local or mounted directory (NFS, host path).
 * Layout: config, keys/<id>, data/<2 hex>/<id>, index/<id>, snapshots/<id>, locks/<id>.
 */
/** Buffers per writev call (Linux's IOV_MAX). */
const IOV_MAX = 1024;
/**
 * Ranged reads up to this size (trees, pack headers) are synchronous: from the page
 * cache open+pread+close take microseconds, while the promise API's three thread-pool
 * round trips held up an incremental snapshot's walk, which waits for each
 * directory's parent tree: 1,058 tree reads, 2.5 -> 2.2 s (docs/PERFORMANCE.md).
 */
const SYNC_READ_MAX = 256 * 1024;

export class LocalBackend implements Backend {
  readonly location: string;
  private readonly madeDirs = new Set<string>();

  constructor(readonly root: string) {
    this.location = path.resolve(root);
  }

  private filePath(h: Handle): string {
    if (h.kind === 'config') return path.join(this.location, 'config');
    if (!/^[0-9a-f]{8,64}$/.test(h.name)) throw new AppError('INVALID_ARGUMENT', `Invalid object name "${h.name}".`);
    if (h.kind === 'data') return path.join(this.location, 'data', h.name.slice(0, 2), h.name);
    return path.join(this.location, h.kind, h.name);
  }

  async put(h: Handle, data: Uint8Array | readonly Uint8Array[]): Promise<void> {
    const parts = data instanceof Uint8Array ? [data] : data;
    const file = this.filePath(h);
    const dir = path.dirname(file);
    await this.ensureDir(dir);
    const tmp = path.join(dir, `.tmp-${randomBytes(8).toString('hex')}`);
    let fh: fs.FileHandle | undefined;
    try {
      fh = await fs.open(tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, 0o600);
      await writeAll(fh, parts, 0);
      await fh.sync();
      await fh.close();
      fh = undefined;
      await fs.rename(tmp, file);
      await syncDir(dir);
    } catch (err) {
      await fh?.close().catch(() => undefined);
      await fs.rm(tmp, { force: true }).catch(() => undefined);
      throw mapFsError(err, `writing ${file}`);
    }
  }

  /**
   * An object written as its parts arrive, into a temporary file beside where it
   * will live; `commit` makes it visible as `put` does (fsync, rename, directory
   * fsync), `abort` removes it. A pack then never has to be whole in memory.
   */
  async createWriter(kind: FileKind): Promise<ObjectWriter> {
    const dir = path.join(this.location, kind);
    await this.ensureDir(dir);
    const tmp = path.join(dir, `.tmp-${randomBytes(8).toString('hex')}`);
    let fh: fs.FileHandle | undefined;
    try {
      fh = await fs.open(tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, 0o600);
    } catch (err) {
      throw mapFsError(err, `writing ${tmp}`);
    }
    let off = 0;
    let open = true;
    const abort = async () => {
      open = false;
      await fh?.close().catch(() => undefined);
      fh = undefined;
      await fs.rm(tmp, { force: true }).catch(() => undefined);
    };
    return {
      write: async (parts) => {
        if (!open || !fh) throw new AppError('INTERNAL', 'write after commit or abort');
        try {
          off = await writeAll(fh, parts, off);
        } catch (err) {
          await abort();
          throw mapFsError(err, `writing ${tmp}`);
        }
      },
      commit: async (name) => {
        if (!open || !fh) throw new AppError('INTERNAL', 'commit after commit or abort');
        const file = this.filePath({ kind, name });
        try {
          await fh.sync();
          await fh.close();
          fh = undefined;
          open = false;
          await this.ensureDir(path.dirname(file));
          await fs.rename(tmp, file);
          await syncDir(path.dirname(file));
        } catch (err) {
          await abort();
          throw mapFsError(err, `writing ${file}`);
        }
      },
      abort,
    };
  }

  async removeTemporaries(): Promise<number> {
    let removed = 0;
    const dirs = [this.location, ...fileKinds.filter((k) => k !== 'config').map((k) => path.join(this.location, k))];
    const data = path.join(this.location, 'data');
    for (const n of await readdirOrEmpty(data)) if (/^[0-9a-f]{2}$/.test(n)) dirs.push(path.join(data, n));
    for (const dir of dirs) {
      for (const name of await readdirOrEmpty(dir)) {
        if (!name.startsWith('.tmp-')) continue;
        await fs.rm(path.join(dir, name), { force: true });
        removed++;
      }
    }
    return removed;
  }

  async get(h: Handle, range?: { offset: number; length: number }): Promise<Buffer> {
    const file = this.filePath(h);
    try {
      if (!range) return await fs.readFile(file);
      if (range.length <= SYNC_READ_MAX) return readRangeSync(file, range);
      const fh = await fs.open(file, 'r');
      try {
        const buf = Buffer.allocUnsafe(range.length);
        let got = 0;
        while (got < range.length) {
          const { bytesRead } = await fh.read(buf, got, range.length - got, range.offset + got);
          if (bytesRead === 0) break;
          got += bytesRead;
        }
        if (got !== range.length) {
          throw new AppError('CORRUPT', `${file} is shorter than expected (wanted ${range.length} bytes at offset ${range.offset}, got ${got}).`);
        }
        return buf;
      } finally {
        await fh.close();
      }
    } catch (err) {
      throw mapFsError(err, `reading ${file}`);
    }
  }

  async getInto(h: Handle, range: { offset: number; length: number }, into: Uint8Array): Promise<void> {
    const file = this.filePath(h);
    if (into.length < range.length) throw new AppError('INTERNAL', 'the buffer is smaller than the range');
    try {
      const fh = await fs.open(file, 'r');
      try {
        let got = 0;
        while (got < range.length) {
          const { bytesRead } = await fh.read(into, got, range.length - got, range.offset + got);
          if (bytesRead === 0) break;
          got += bytesRead;
        }
        if (got !== range.length) throw new AppError('CORRUPT', `${file} is shorter than expected (wanted ${range.length} bytes at offset ${range.offset}, got ${got}).`);
      } finally {
        await fh.close();
      }
    } catch (err) {
      throw mapFsError(err, `reading ${file}`);
    }
  }

  async stat(h: Handle): Promise<ObjectInfo> {
    const file = this.filePath(h);
    try {
      const st = await fs.stat(file);
      return { name: h.name, size: st.size };
    } catch (err) {
      throw mapFsError(err, `reading ${file}`);
    }
  }

  async *list(kind: FileKind): AsyncIterable<ObjectInfo> {
    if (kind === 'config') {
      try {
        const st = await fs.stat(path.join(this.location, 'config'));
        yield { name: 'config', size: st.size };
      } catch (err) {
        if (errnoCode(err) !== 'ENOENT') throw mapFsError(err, 'listing config');
      }
      return;
    }
    const base = path.join(this.location, kind);
    const dirs = kind === 'data' ? await readdirOrEmpty(base).then((d) => d.filter((n) => /^[0-9a-f]{2}$/.test(n)).map((n) => path.join(base, n))) : [base];
    for (const dir of dirs) {
      for (const name of await readdirOrEmpty(dir)) {
        if (name.startsWith('.tmp-')) continue;
        try {
          const st = await fs.stat(path.join(dir, name));
          if (st.isFile()) yield { name, size: st.size };
        } catch (err) {
          if (errnoCode(err) !== 'ENOENT') throw mapFsError(err, `listing ${dir}`);
        }
      }
    }
  }

  async remove(h: Handle, opts?: RemoveOptions): Promise<void> {
    const file = this.filePath(h);
    try {
      await fs.unlink(file);
      await syncDir(path.dirname(file));
    } catch (err) {
      const e = mapFsError(err, `removing ${file}`);
      if (opts?.missingOk && e.code === 'NOT_FOUND') return;
      throw e;
    }
  }

  async isRepository(): Promise<boolean> {
    try {
      await fs.stat(path.join(this.location, 'config'));
      return true;
    } catch (err) {
      if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') return false;
      throw mapFsError(err, `reading ${this.location}`);
    }
  }

  async create(): Promise<void> {
    try {
      const st = await fs.stat(this.location).catch(() => undefined);
      if (st && !st.isDirectory()) {
        throw new AppError('INVALID_ARGUMENT', `${this.location} exists and is not a directory; give a directory (it is created if missing).`);
      }
      await fs.mkdir(this.location, { recursive: true });
      const existing = await fs.readdir(this.location);
      const clash = existing.filter((n) => n === 'config' || (fileKinds as readonly string[]).includes(n));
      if (clash.length > 0) {
        throw new AppError('REPO_EXISTS', `${this.location} already holds repository files (${clash.join(', ')}); choose an empty directory.`);
      }
      for (const kind of fileKinds) if (kind !== 'config') await this.ensureDir(path.join(this.location, kind));
    } catch (err) {
      throw mapFsError(err, `creating ${this.location}`);
    }
  }

  async close(): Promise<void> {}

  private async ensureDir(dir: string): Promise<void> {
    if (this.madeDirs.has(dir)) return;
    const made = await fs.mkdir(dir, { recursive: true });
    if (made !== undefined) await syncDir(path.dirname(dir));
    this.madeDirs.add(dir);
  }
}

async function readdirOrEmpty(dir: string): Promise<string[]> {
  try {
    return await fs.readdir(dir);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return [];
    throw mapFsError(err, `listing ${dir}`);
  }
}

async function syncDir(dir: string): Promise<void> {
  const fh = await fs.open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

function mapFsError(err: unknown, what: string): AppError {
  if (err instanceof AppError) return err;
  const code = errnoCode(err);
  const msg = err instanceof Error ? err.message : String(err);
  switch (code) {
    case 'ENOENT':
      return new AppError('NOT_FOUND', `Not found while ${what}.`, { cause: err });
    case 'ENOSPC':
    case 'EDQUOT':
      return new AppError('STORAGE_FULL', `The destination is full (${code}) while ${what}. Free space or choose another destination; nothing was made visible.`, { cause: err });
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
      return new AppError('PERMISSION_DENIED', `Permission denied (${code}) while ${what}. Check the directory's owner and mode.`, { cause: err });
    case 'EIO':
    case 'ETIMEDOUT':
    case 'ESTALE':
      return new AppError('STORAGE_UNAVAILABLE', `I/O error (${code}) while ${what}: ${msg}`, { cause: err });
    default:
      return new AppError('INTERNAL', `${msg} (while ${what})`, { cause: err });
  }
}

/**
 * Writes `parts` at `off` in vectored writes; returns the offset after them.
 * A pack of many tiny blobs is thousands of parts, and one write call per part
 * cost more than everything else in a backup of small files (bench/).
 */
async function writeAll(fh: fs.FileHandle, parts: readonly Uint8Array[], off: number): Promise<number> {
  for (let i = 0; i < parts.length; i += IOV_MAX) {
    const group = parts.slice(i, i + IOV_MAX);
    const size = group.reduce((n, p) => n + p.length, 0);
    const { bytesWritten } = await fh.writev(group as Uint8Array[], off);
    if (bytesWritten < size) {
      // A short vectored write is legal: finish the group part by part.
      let pos = 0;
      for (const part of group) {
        for (let done = Math.max(0, bytesWritten - pos); done < part.length; ) {
          done += (await fh.write(part, done, part.length - done, off + pos + done)).bytesWritten;
        }
        pos += part.length;
      }
    }
    off += size;
  }
  return off;
}

function readRangeSync(file: string, range: { offset: number; length: number }): Buffer {
  const fd = fsSync.openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(range.length);
    let got = 0;
    while (got < range.length) {
      const n = fsSync.readSync(fd, buf, got, range.length - got, range.offset + got);
      if (n === 0) break;
      got += n;
    }
    if (got !== range.length) throw new AppError('CORRUPT', `${file} is shorter than expected (wanted ${range.length} bytes at offset ${range.offset}, got ${got}).`);
    return buf;
  } finally {
    fsSync.closeSync(fd);
  }
}
