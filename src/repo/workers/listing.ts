import { lstatSync, readdirSync, type BigIntStats } from 'node:fs';
import { getSystemErrorMap } from 'node:util';
import { nativeCore } from '../native/core.js';

/**
 * A directory's entries and their lstat metadata in a few typed arrays: what a
 * backup's walk needs, made where the system calls run (a pipeline worker) and
 * moved to the main thread without a copy, without an object per entry and
 * without the eighteen BigInts of a BigIntStats. Names are sorted by their bytes.
 */
export interface DirListing {
  /** Every name's bytes, back to back. */
  names: Uint8Array;
  /** ends[i]: where name i ends in `names` (it starts where name i-1 ends). */
  ends: Uint32Array;
  /** FIELDS numbers per entry; see the F_ constants. */
  meta: Float64Array;
  /** Entries whose lstat failed, with the error's code and message. */
  errors: { i: number; code: string; message: string }[];
  /** Exact decimal text of values a double cannot hold exactly, keyed by i * FIELDS + field. */
  exact: Record<number, string>;
}

export const F_KIND = 0;
export const F_MODE = 1;
export const F_UID = 2;
export const F_GID = 3;
export const F_SIZE = 4;
export const F_NLINK = 5;
export const F_INO = 6;
export const F_DEV = 7;
export const F_RDEV = 8;
/** Times as whole seconds and nanoseconds (a non-negative time under 2^53 s; others go to `exact`). */
export const F_MTIME_S = 9;
export const F_MTIME_NS = 10;
export const F_CTIME_S = 11;
export const F_CTIME_NS = 12;
export const FIELDS = 13;

export type EntryKind = 'file' | 'dir' | 'symlink' | 'fifo' | 'socket' | 'chardev' | 'blockdev';
export const KINDS: readonly EntryKind[] = ['file', 'dir', 'symlink', 'fifo', 'socket', 'chardev', 'blockdev'];
/** The kind of an entry whose lstat failed. */
export const KIND_ERROR = -1;

const SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const BILLION = 1_000_000_000n;

function kindOf(st: BigIntStats): number {
  if (st.isFile()) return 0;
  if (st.isDirectory()) return 1;
  if (st.isSymbolicLink()) return 2;
  if (st.isFIFO()) return 3;
  if (st.isSocket()) return 4;
  if (st.isCharacterDevice()) return 5;
  return 6;
}

/**
 * Builds a listing of `names`, sorted here by their bytes, from an lstat of each
 * (which may throw); the same code runs on a worker and in-process.
 */
export function buildListing(names: Buffer[], lstat: (name: Buffer) => BigIntStats): DirListing {
  const out = namesOnly(names);
  for (let i = 0; i < names.length; i++) statInto(out, i, () => lstat(names[i]!));
  return out;
}

/** A listing of `names`, sorted here by their bytes, with no metadata yet. */
function namesOnly(names: Buffer[]): DirListing {
  names.sort(Buffer.compare);
  let total = 0;
  for (const n of names) total += n.length;
  const out: DirListing = { names: new Uint8Array(total), ends: new Uint32Array(names.length), meta: new Float64Array(names.length * FIELDS), errors: [], exact: {} };
  let off = 0;
  for (let i = 0; i < names.length; i++) {
    out.names.set(names[i]!, off);
    off += names[i]!.length;
    out.ends[i] = off;
  }
  return out;
}

/** Entry i's metadata from `lstat`, or its failure. */
function statInto(out: DirListing, i: number, lstat: () => BigIntStats): void {
  let st: BigIntStats;
  try {
    st = lstat();
  } catch (err) {
    out.meta[i * FIELDS + F_KIND] = KIND_ERROR;
    out.errors.push({ i, code: (err as NodeJS.ErrnoException).code ?? 'EIO', message: err instanceof Error ? err.message : String(err) });
    return;
  }
  packStat(out, i, st);
}

/**
 * A directory's listing made here: its names from readdir, their metadata from the native
 * core's lstatAt (each entry looked up relative to the open directory, no object per entry)
 * or, without it, from lstatSync with BigInts. Throws when the directory cannot be read.
 */
export function listDirectory(dir: Buffer): DirListing {
  const prefix = dir.length === 1 && dir[0] === 0x2f ? dir : Buffer.concat([dir, SLASH]);
  const lstat = (name: Buffer) => lstatSync(Buffer.concat([prefix, name]), { bigint: true });
  const core = nativeCore();
  if (!core?.lstatAt) return buildListing(readdirSync(dir, { encoding: 'buffer' }), lstat);
  // The names already sorted in one buffer (the native readDir), or from readdirSync.
  let out: DirListing;
  const read = core.readDir && dir.length < 4096 && !dir.includes(0) ? core.readDir(dir) : undefined;
  if (typeof read === 'number') throw systemError(-read, 'scandir', dir);
  if (read) out = { names: read[0], ends: read[1], meta: new Float64Array(read[1].length * FIELDS), errors: [], exact: {} };
  else out = namesOnly(readdirSync(dir, { encoding: 'buffer' }));
  const name = (i: number) => Buffer.from(out.names.buffer, out.names.byteOffset + (i === 0 ? 0 : out.ends[i - 1]!), out.ends[i]! - (i === 0 ? 0 : out.ends[i - 1]!));
  core.lstatAt(dir, out.names, out.ends, out.meta);
  for (let i = 0; i < out.ends.length; i++) {
    const kind = out.meta[i * FIELDS + F_KIND];
    if (kind === KIND_ERROR) {
      const errno = out.meta[i * FIELDS + F_MODE]!;
      const [code, text] = getSystemErrorMap().get(-errno) ?? [`E${errno}`, 'unknown error'];
      out.errors.push({ i, code, message: `${code}: ${text}, lstat '${Buffer.concat([prefix, name(i)]).toString('utf8')}'` });
    } else if (kind === KIND_AGAIN) statInto(out, i, () => lstat(name(i)));
  }
  return out;
}

/** The error Node's fs would throw for `errno` from `syscall` on `path`: the same code, errno and message. */
function systemError(errno: number, syscall: string, path: Buffer): NodeJS.ErrnoException {
  const [code, text] = getSystemErrorMap().get(-errno) ?? [`E${errno}`, 'unknown error'];
  const shown = path.toString('utf8');
  return Object.assign(new Error(`${code}: ${text}, ${syscall} '${shown}'`), { errno: -errno, code, syscall, path: shown });
}

const SLASH = Buffer.from('/');
/** From the native core: stat this entry again with BigInts. */
const KIND_AGAIN = -2;

function packStat(out: DirListing, i: number, st: BigIntStats): void {
  const base = i * FIELDS;
  const m = out.meta;
  {
    m[base + F_KIND] = kindOf(st);
    m[base + F_MODE] = Number(st.mode);
    m[base + F_UID] = Number(st.uid);
    m[base + F_GID] = Number(st.gid);
    const put = (field: number, v: bigint) => {
      if (v >= 0n && v <= SAFE) m[base + field] = Number(v);
      else {
        m[base + field] = NaN;
        out.exact[base + field] = v.toString();
      }
    };
    put(F_SIZE, st.size);
    m[base + F_NLINK] = Number(st.nlink);
    put(F_INO, st.ino);
    put(F_DEV, st.dev);
    put(F_RDEV, st.rdev);
    const time = (fs: number, ns: bigint) => {
      if (ns >= 0n && ns / BILLION <= SAFE) {
        m[base + fs] = Number(ns / BILLION);
        m[base + fs + 1] = Number(ns % BILLION);
      } else {
        m[base + fs] = NaN;
        out.exact[base + fs] = ns.toString();
      }
    };
    time(F_MTIME_S, st.mtimeNs);
    time(F_CTIME_S, st.ctimeNs);
  }
}

/** An entry's lstat metadata as a backup uses it: numbers where they fit, decimal text where they may not. */
export interface EntryStat {
  kind: EntryKind;
  /** The whole st_mode (type and permission bits). */
  mode: number;
  uid: number;
  gid: number;
  size: number;
  nlink: number;
  ino: string;
  dev: string;
  rdev: string;
  mtimeNs: string;
  ctimeNs: string;
}

/** The same metadata from a BigIntStats (the roots of a backup, a file looked at again). */
export function entryStat(st: BigIntStats): EntryStat {
  return {
    kind: KINDS[kindOf(st)]!,
    mode: Number(st.mode),
    uid: Number(st.uid),
    gid: Number(st.gid),
    size: Number(st.size),
    nlink: Number(st.nlink),
    ino: st.ino.toString(),
    dev: st.dev.toString(),
    rdev: st.rdev.toString(),
    mtimeNs: st.mtimeNs.toString(),
    ctimeNs: st.ctimeNs.toString(),
  };
}

/** The decimal text of a whole number of nanoseconds given as seconds and nanoseconds. */
function nsText(s: number, ns: number): string {
  if (s === 0) return String(ns);
  const t = String(ns);
  return String(s) + '000000000'.slice(t.length) + t;
}

/** Reads a listing on the main thread: each field as the tree stores it, made only when asked for. */
export class Listing {
  readonly length: number;
  private readonly namesBuf: Buffer;
  private readonly failures = new Map<number, { code: string; message: string }>();

  constructor(private readonly l: DirListing) {
    this.length = l.ends.length;
    this.namesBuf = Buffer.from(l.names.buffer, l.names.byteOffset, l.names.byteLength);
    for (const e of l.errors) this.failures.set(e.i, e);
  }

  name(i: number): Buffer {
    return this.namesBuf.subarray(i === 0 ? 0 : this.l.ends[i - 1]!, this.l.ends[i]!);
  }

  /** Every name's bytes, back to back: name i is names[nameStart(i), nameEnd(i)). */
  get names(): Uint8Array {
    return this.l.names;
  }

  nameStart(i: number): number {
    return i === 0 ? 0 : this.l.ends[i - 1]!;
  }

  nameEnd(i: number): number {
    return this.l.ends[i]!;
  }

  /** Why the entry's lstat failed, if it did. */
  failure(i: number): { code: string; message: string } | undefined {
    return this.l.meta[i * FIELDS + F_KIND] === KIND_ERROR ? this.failures.get(i) : undefined;
  }

  kind(i: number): EntryKind {
    return KINDS[this.l.meta[i * FIELDS + F_KIND]!]!;
  }

  isFile(i: number): boolean {
    return this.l.meta[i * FIELDS + F_KIND] === 0;
  }

  num(i: number, field: number): number {
    const v = this.l.meta[i * FIELDS + field]!;
    return Number.isNaN(v) ? Number(this.l.exact[i * FIELDS + field]) : v;
  }

  /** A field as the listing holds it: NaN where the number is not exact (then `text` has it). */
  raw(i: number, field: number): number {
    return this.l.meta[i * FIELDS + field]!;
  }

  text(i: number, field: number): string {
    const v = this.l.meta[i * FIELDS + field]!;
    return Number.isNaN(v) ? this.l.exact[i * FIELDS + field]! : String(v);
  }

  /** The entry's metadata as one object (for the entries the walk does more with than compare). */
  stat(i: number): EntryStat {
    return {
      kind: this.kind(i),
      mode: this.num(i, F_MODE),
      uid: this.num(i, F_UID),
      gid: this.num(i, F_GID),
      size: this.num(i, F_SIZE),
      nlink: this.num(i, F_NLINK),
      ino: this.text(i, F_INO),
      dev: this.text(i, F_DEV),
      rdev: this.text(i, F_RDEV),
      mtimeNs: this.timeNs(i, F_MTIME_S),
      ctimeNs: this.timeNs(i, F_CTIME_S),
    };
  }

  /** A time field (F_MTIME_S or F_CTIME_S) in nanoseconds, as decimal text. */
  timeNs(i: number, field: number): string {
    const b = i * FIELDS + field;
    const s = this.l.meta[b]!;
    return Number.isNaN(s) ? this.l.exact[b]! : nsText(s, this.l.meta[b + 1]!);
  }
}
