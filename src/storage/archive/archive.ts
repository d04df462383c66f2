import { createHash, type Hash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { AppError, syncDirSync } from '../../kernel/index.js';
import { fileKinds, type Backend, type FileKind, type Handle, type ObjectInfo, type RemoveOptions } from '../backend.js';

/**
 * A snapshot archive: a whole repository (config, key, packs, index, snapshot)
 * in one file, written front to back, so `snapshot download` can stream it and
 * `snapshot upload` can verify it before anything reaches a repository.
 *
 *   "STRONGBOX-ARCHIVE\n" (18 bytes), format version (u32 BE)
 *   records: kind (u8) · name length (u8) · name · data length (u64 BE) · data
 *   trailer: kind 255 · name "end" · length 40 · SHA-256 of every byte before the trailer · record count (u64 BE)
 *
 * Everything inside is sealed with the archive's own key, which its password
 * opens (docs/FORMAT.md). Each side is a Backend, so the repository engine
 * reads and writes archives as it does repositories.
 */
const MAGIC = Buffer.from('STRONGBOX-ARCHIVE\n');
const VERSION = 1;
const END = 255;
/** Caps a hostile archive's claims before they cost memory. */
const MAX_RECORDS = 10_000_000;
const MAX_SMALL_OBJECT = 64 * 1024 * 1024;

const kindCode = (k: FileKind) => fileKinds.indexOf(k) + 1;
const kindOf = (c: number): FileKind | undefined => fileKinds[c - 1];

function checkName(kind: FileKind, name: string): void {
  if (kind === 'config' ? name !== 'config' : !/^[0-9a-f]{8,64}$/.test(name)) throw new AppError('CORRUPT', `The archive holds an object with an invalid name (${kind}/${name.slice(0, 80)}).`);
}

/** Writes an archive; objects other than data are also kept in memory, for the engine to read back. */
export class ArchiveWriter implements Backend {
  readonly location: string;
  private readonly fd: number;
  private readonly tmp: string;
  private readonly hash: Hash = createHash('sha256');
  private readonly small = new Map<string, Buffer>();
  private readonly dataSizes = new Map<string, number>();
  private records = 0;
  private bytes = 0;
  private closed = false;

  constructor(readonly file: string) {
    this.location = `archive ${file}`;
    this.tmp = `${file}.${randomBytes(4).toString('hex')}.partial`;
    try {
      this.fd = fs.openSync(this.tmp, 'wx', 0o600);
    } catch (err) {
      throw new AppError('INVALID_ARGUMENT', `Cannot write ${file}: ${(err as Error).message}.`, { cause: err });
    }
    const head = Buffer.alloc(MAGIC.length + 4);
    MAGIC.copy(head);
    head.writeUInt32BE(VERSION, MAGIC.length);
    this.write([head]);
  }

  get size(): number {
    return this.bytes;
  }

  private write(parts: readonly Uint8Array[]): void {
    for (const p of parts) {
      this.hash.update(p);
      for (let off = 0; off < p.length; ) off += fs.writeSync(this.fd, p, off, p.length - off);
      this.bytes += p.length;
    }
  }

  private record(kind: number, name: string, parts: readonly Uint8Array[]): void {
    const len = parts.reduce((n, p) => n + p.length, 0);
    const nb = Buffer.from(name, 'ascii');
    const head = Buffer.alloc(2 + nb.length + 8);
    head[0] = kind;
    head[1] = nb.length;
    nb.copy(head, 2);
    head.writeBigUInt64BE(BigInt(len), 2 + nb.length);
    this.write([head, ...parts]);
    this.records++;
  }

  async put(h: Handle, data: Uint8Array | readonly Uint8Array[]): Promise<void> {
    const parts = data instanceof Uint8Array ? [data] : data;
    // Locks guard live repositories; an archive being written has one writer and no locks to keep.
    if (h.kind === 'locks') {
      this.small.set(`locks/${h.name}`, Buffer.concat(parts as Uint8Array[]));
      return;
    }
    this.record(kindCode(h.kind), h.kind === 'config' ? 'config' : h.name, parts);
    if (h.kind === 'data') this.dataSizes.set(h.name, parts.reduce((n, p) => n + p.length, 0));
    else this.small.set(`${h.kind}/${h.kind === 'config' ? 'config' : h.name}`, Buffer.concat(parts as Uint8Array[]));
  }

  async get(h: Handle): Promise<Buffer> {
    const v = this.small.get(`${h.kind}/${h.kind === 'config' ? 'config' : h.name}`);
    if (!v) throw new AppError('NOT_FOUND', `${h.kind}/${h.name} is not in the archive being written.`);
    return v;
  }

  async stat(h: Handle): Promise<ObjectInfo> {
    const size = h.kind === 'data' ? this.dataSizes.get(h.name) : (await this.get(h)).length;
    if (size === undefined) throw new AppError('NOT_FOUND', `${h.kind}/${h.name} is not in the archive being written.`);
    return { name: h.name, size };
  }

  async *list(kind: FileKind): AsyncIterable<ObjectInfo> {
    if (kind === 'data') for (const [name, size] of this.dataSizes) yield { name, size };
    else for (const [k, v] of this.small) if (k.startsWith(`${kind}/`)) yield { name: k.slice(kind.length + 1), size: v.length };
  }

  async remove(h: Handle): Promise<void> {
    if (h.kind !== 'locks') throw new AppError('INTERNAL', 'An archive is written once; nothing in it is removed.');
    this.small.delete(`locks/${h.name}`);
  }

  async isRepository(): Promise<boolean> {
    return this.small.has('config/config');
  }

  async create(): Promise<void> {}

  /** Writes the trailer, makes the file durable and gives it its name. */
  async finish(): Promise<void> {
    const digest = this.hash.copy().digest();
    const tail = Buffer.alloc(40);
    digest.copy(tail);
    tail.writeBigUInt64BE(BigInt(this.records + 1), 32);
    const nb = Buffer.from('end');
    const head = Buffer.alloc(2 + nb.length + 8);
    head[0] = END;
    head[1] = nb.length;
    nb.copy(head, 2);
    head.writeBigUInt64BE(40n, 2 + nb.length);
    for (const p of [head, tail]) for (let off = 0; off < p.length; ) off += fs.writeSync(this.fd, p, off, p.length - off);
    this.bytes += head.length + tail.length;
    fs.fsyncSync(this.fd);
    fs.closeSync(this.fd);
    this.closed = true;
    fs.renameSync(this.tmp, this.file);
    // The name is durable too: a crash after "download finished" must not lose the archive.
    syncDirSync(path.dirname(this.file));
  }

  /** Gives up: the partial file is removed, nothing is left under the archive's name. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    fs.closeSync(this.fd);
    fs.rmSync(this.tmp, { force: true });
  }
}

interface Entry {
  offset: number;
  length: number;
}

/**
 * Reads an archive, read-only. `open` checks it whole before anything uses it:
 * the header, every record's framing against the file's size, every name, and
 * the trailer's SHA-256 over all the bytes — a truncated, corrupted or
 * tampered file is refused here, before a repository is touched.
 */
export class ArchiveReader implements Backend {
  readonly location: string;
  private readonly entries = new Map<string, Entry>();
  private readonly locks = new Map<string, Buffer>();

  private constructor(
    readonly file: string,
    private readonly fd: number,
  ) {
    this.location = `archive ${file}`;
  }

  static async open(file: string, onProgress?: (done: number, total: number) => void): Promise<ArchiveReader> {
    let fd: number;
    try {
      fd = fs.openSync(file, 'r');
    } catch (err) {
      throw new AppError('INVALID_ARGUMENT', `Cannot read ${file}: ${(err as Error).message}.`, { cause: err });
    }
    const r = new ArchiveReader(file, fd);
    try {
      await r.verify(onProgress);
      return r;
    } catch (err) {
      fs.closeSync(fd);
      throw err;
    }
  }

  private read(offset: number, length: number): Buffer {
    const b = Buffer.allocUnsafe(length);
    let got = 0;
    while (got < length) {
      const n = fs.readSync(this.fd, b, got, length - got, offset + got);
      if (n === 0) break;
      got += n;
    }
    if (got !== length) throw new AppError('CORRUPT', `${this.file} is truncated (it ends inside a record). Download it again.`);
    return b;
  }

  private async verify(onProgress?: (done: number, total: number) => void): Promise<void> {
    const size = fs.fstatSync(this.fd).size;
    const bad = (why: string) => new AppError('CORRUPT', `${this.file} is not a valid Strongbox archive: ${why}. Nothing was imported.`);
    if (size < MAGIC.length + 4) throw bad('it is too short');
    const head = this.read(0, MAGIC.length + 4);
    if (!head.subarray(0, MAGIC.length).equals(MAGIC)) throw bad('it does not start like one');
    const version = head.readUInt32BE(MAGIC.length);
    if (version !== VERSION) throw new AppError('UNSUPPORTED_VERSION', `${this.file} is a Strongbox archive of format ${version}; this Strongbox reads format ${VERSION}.`);
    const hash = createHash('sha256');
    hash.update(head);
    let pos = head.length;
    let records = 0;
    for (;;) {
      if (pos + 2 > size) throw bad('it is truncated (no trailer)');
      const fixed = this.read(pos, 2);
      const nameLen = fixed[1]!;
      if (pos + 2 + nameLen + 8 > size) throw bad('it is truncated (a record header runs past the end)');
      const rest = this.read(pos + 2, nameLen + 8);
      const name = rest.subarray(0, nameLen).toString('ascii');
      const len = rest.readBigUInt64BE(nameLen);
      const dataAt = pos + 2 + nameLen + 8;
      if (len > BigInt(size - dataAt)) throw bad(`a record claims ${len} bytes, more than the file holds`);
      const length = Number(len);
      if (fixed[0] === END) {
        if (name !== 'end' || length !== 40 || dataAt + 40 !== size) throw bad('its trailer is malformed or followed by more bytes');
        const tail = this.read(dataAt, 40);
        if (!hash.digest().equals(tail.subarray(0, 32))) throw bad('its checksum does not match (it was corrupted or altered)');
        if (tail.readBigUInt64BE(32) !== BigInt(records + 1)) throw bad('its record count does not match');
        return;
      }
      const kind = kindOf(fixed[0]!);
      if (!kind || kind === 'locks') throw bad(`a record has an unknown kind ${fixed[0]}`);
      checkName(kind, name);
      if (kind !== 'data' && length > MAX_SMALL_OBJECT) throw bad(`${kind}/${name} claims ${length} bytes`);
      const key = `${kind}/${name}`;
      if (this.entries.has(key)) throw bad(`${key} appears twice`);
      if (++records > MAX_RECORDS) throw bad('it holds too many records');
      this.entries.set(key, { offset: dataAt, length });
      hash.update(fixed);
      hash.update(rest);
      // Hash the data in bounded pieces.
      for (let off = 0; off < length; off += 8 << 20) {
        const n = Math.min(8 << 20, length - off);
        hash.update(this.read(dataAt + off, n));
        onProgress?.(dataAt + off + n, size);
        if (off % (64 << 20) === 0) await new Promise((r) => setImmediate(r));
      }
      pos = dataAt + length;
    }
  }

  async put(h: Handle, data: Uint8Array | readonly Uint8Array[]): Promise<void> {
    // Reading takes (in-memory) locks; nothing else is ever written to an archive being read.
    if (h.kind !== 'locks') throw new AppError('INTERNAL', 'An archive is read-only.');
    this.locks.set(h.name, Buffer.concat((data instanceof Uint8Array ? [data] : data) as Uint8Array[]));
  }

  async get(h: Handle, range?: { offset: number; length: number }): Promise<Buffer> {
    if (h.kind === 'locks') {
      const l = this.locks.get(h.name);
      if (!l) throw new AppError('NOT_FOUND', `No lock ${h.name}.`);
      return l;
    }
    const e = this.entries.get(`${h.kind}/${h.kind === 'config' ? 'config' : h.name}`);
    if (!e) throw new AppError('NOT_FOUND', `${h.kind}/${h.name} is not in ${this.file}.`);
    if (!range) return this.read(e.offset, e.length);
    if (range.offset + range.length > e.length) throw new AppError('CORRUPT', `${h.kind}/${h.name} in ${this.file} is shorter than expected.`);
    return this.read(e.offset + range.offset, range.length);
  }

  async stat(h: Handle): Promise<ObjectInfo> {
    if (h.kind === 'locks') return { name: h.name, size: (await this.get(h)).length };
    const e = this.entries.get(`${h.kind}/${h.kind === 'config' ? 'config' : h.name}`);
    if (!e) throw new AppError('NOT_FOUND', `${h.kind}/${h.name} is not in ${this.file}.`);
    return { name: h.name, size: e.length };
  }

  async *list(kind: FileKind): AsyncIterable<ObjectInfo> {
    if (kind === 'locks') {
      for (const [name, v] of this.locks) yield { name, size: v.length };
      return;
    }
    for (const [k, e] of this.entries) if (k.startsWith(`${kind}/`)) yield { name: k.slice(kind.length + 1), size: e.length };
  }

  async remove(h: Handle, opts?: RemoveOptions): Promise<void> {
    if (h.kind === 'locks' && (this.locks.delete(h.name) || opts?.missingOk)) return;
    throw new AppError('NOT_FOUND', `${h.kind}/${h.name} cannot be removed from ${this.file}.`);
  }

  async isRepository(): Promise<boolean> {
    return this.entries.has('config/config');
  }

  async create(): Promise<void> {
    throw new AppError('INTERNAL', 'An archive is read-only.');
  }

  async close(): Promise<void> {
    fs.closeSync(this.fd);
  }
}
