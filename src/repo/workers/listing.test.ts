import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { BigIntStats } from 'node:fs';
import { execFileSync } from 'node:child_process';
import * as net from 'node:net';
import { nativeCore } from '../native/core.js';
import { buildListing, entryStat, F_CTIME_S, F_INO, F_MTIME_S, F_SIZE, FIELDS, Listing, listDirectory } from './listing.js';

test('a listing holds what lstat says, for every kind of entry and any name bytes, sorted by bytes', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-listing-'));
  try {
    const d = Buffer.from(dir);
    const at = (n: Buffer) => Buffer.concat([d, Buffer.from('/'), n]);
    fs.writeFileSync(at(Buffer.from('b.txt')), 'hello');
    fs.writeFileSync(at(Buffer.from([0x61, 0xff, 0xfe])), 'raw');
    fs.mkdirSync(at(Buffer.from('sub')));
    fs.symlinkSync('b.txt', at(Buffer.from('link')));
    fs.writeFileSync(at(Buffer.from('é')), '');
    const names = fs.readdirSync(d, { encoding: 'buffer' });
    const l = new Listing(buildListing(names, (n) => fs.lstatSync(at(n), { bigint: true })));
    assert.equal(l.length, 5);
    const listed = Array.from({ length: l.length }, (_, i) => l.name(i));
    assert.deepEqual(listed, [...listed].sort(Buffer.compare));
    for (let i = 0; i < l.length; i++) {
      assert.equal(l.failure(i), undefined);
      assert.deepEqual(l.stat(i), entryStat(fs.lstatSync(at(l.name(i)), { bigint: true })));
    }
    assert.deepEqual(listed.map((n, i) => [n.toString('latin1'), l.kind(i)]), [
      ['a\xff\xfe', 'file'],
      ['b.txt', 'file'],
      ['link', 'symlink'],
      ['sub', 'dir'],
      ['\xc3\xa9', 'file'],
    ]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a listing keeps the exact value of what a double cannot hold, and an lstat failure as data', () => {
  const big = (v: Partial<Record<keyof BigIntStats, bigint>>, kind: 'file' | 'gone'): BigIntStats => {
    if (kind === 'gone') throw Object.assign(new Error('ENOENT: no such file'), { code: 'ENOENT' });
    const base = { dev: 1n, ino: 2n, mode: 0o100644n, nlink: 1n, uid: 0n, gid: 0n, rdev: 0n, size: 3n, mtimeNs: 5n, ctimeNs: 1_000_000_000n };
    return { ...base, ...v, isFile: () => true, isDirectory: () => false, isSymbolicLink: () => false, isFIFO: () => false, isSocket: () => false, isCharacterDevice: () => false, isBlockDevice: () => false } as unknown as BigIntStats;
  };
  const cases: Record<string, [Partial<Record<keyof BigIntStats, bigint>>, 'file' | 'gone']> = {
    a: [{ ino: 18_446_744_073_709_551_557n, dev: 2n ** 60n }, 'file'],
    b: [{ mtimeNs: -1_500_000_000n, ctimeNs: 1_733_415_884_000_000_007n }, 'file'],
    c: [{}, 'gone'],
    d: [{ mtimeNs: 999_999_999n, ctimeNs: 12_000_000_000n }, 'file'],
  };
  const l = new Listing(buildListing(Object.keys(cases).map((k) => Buffer.from(k)), (n) => big(...cases[n.toString()]!)));
  assert.equal(l.text(0, F_INO), '18446744073709551557');
  assert.equal(l.stat(0).dev, (2n ** 60n).toString());
  assert.equal(l.timeNs(1, F_MTIME_S), '-1500000000');
  assert.equal(l.timeNs(1, F_CTIME_S), '1733415884000000007');
  assert.deepEqual(l.failure(2), { i: 2, code: 'ENOENT', message: 'ENOENT: no such file' });
  assert.equal(l.timeNs(3, F_MTIME_S), '999999999');
  assert.equal(l.timeNs(3, F_CTIME_S), '12000000000');
  assert.equal(l.num(3, F_SIZE), 3);
  for (const i of [0, 1, 3]) assert.deepEqual(l.stat(i), entryStat(big(...cases[l.name(i).toString()]!)));
});

test('listDirectory: the native core lists what lstat with BigInts says, for every kind of entry; its failures and the entries it leaves to JavaScript are data', async () => {
  const core = nativeCore();
  if (core) assert.equal(typeof core.lstatAt, 'function', 'a native core built from this source has lstatAt');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-listing-'));
  const server = net.createServer();
  try {
    const d = Buffer.from(dir);
    const at = (n: string | Buffer) => Buffer.concat([d, Buffer.from('/'), Buffer.from(n)]);
    fs.writeFileSync(at('file'), 'x'.repeat(1000));
    fs.writeFileSync(at(Buffer.from([0x6e, 0xff])), 'raw name');
    fs.mkdirSync(at('dir'));
    fs.symlinkSync('/nowhere', at('dangling'));
    execFileSync('mkfifo', [at('fifo').toString()]);
    await new Promise<void>((r) => server.listen(at('socket').toString(), r));
    if (process.getuid?.() === 0) execFileSync('mknod', [at('null').toString(), 'c', '1', '3']);
    fs.linkSync(at('file'), at('hardlink'));
    fs.utimesSync(at('file'), new Date(Date.UTC(2001, 0, 1, 0, 0, 0, 7)), new Date(123.456789));
    const native = listDirectory(d);
    const js = buildListing(fs.readdirSync(d, { encoding: 'buffer' }), (n) => fs.lstatSync(at(n), { bigint: true }));
    assert.deepEqual(native, js);
    const l = new Listing(native);
    assert.ok(l.length >= 8);
    for (let i = 0; i < l.length; i++) assert.deepEqual(l.stat(i), entryStat(fs.lstatSync(at(l.name(i)), { bigint: true })));
    assert.deepEqual(new Set(Array.from({ length: l.length }, (_, i) => l.kind(i))), new Set(['file', 'dir', 'symlink', 'fifo', 'socket', ...(process.getuid?.() === 0 ? ['chardev'] : [])]));
    if (core?.lstatAt) {
      // Straight to the core: a name that is not there, a name readdir never gives.
      const names = Buffer.from('filegonea/b');
      const meta = new Float64Array(3 * FIELDS);
      assert.equal(core.lstatAt(d, names, Uint32Array.from([4, 8, 11]), meta), 1);
      assert.deepEqual([meta[0], meta[FIELDS], meta[2 * FIELDS]], [0, -1, -2]);
      assert.equal(meta[FIELDS + 1], os.constants.errno.ENOENT);
      assert.throws(() => core.lstatAt!(d, names, Uint32Array.from([4]), new Float64Array(1)), /lstatAt/);
      // The directory gone: every entry is left to JavaScript, which reports each as gone.
      const gone = Buffer.concat([d, Buffer.from('/nope')]);
      assert.equal(core.lstatAt(gone, names, Uint32Array.from([4]), new Float64Array(FIELDS)), 1);
    }
    assert.throws(() => listDirectory(Buffer.concat([d, Buffer.from('/nope')])), { code: 'ENOENT' });
  } finally {
    server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("native readDir gives readdir's names sorted by their bytes, as Buffer.compare sorts them, and fails as readdirSync fails", () => {
  const core = nativeCore();
  assert.equal(typeof core?.readDir, 'function', 'a native core built from this source has readDir');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-readdir-'));
  try {
    const d = Buffer.from(dir);
    const at = (n: Buffer) => Buffer.concat([d, Buffer.from('/'), n]);
    // More names than the core's first buffers hold (256 entries, 16 KiB), names that are
    // prefixes of others, bytes above 0x7f (not UTF-8), and long names.
    const made: Buffer[] = [];
    for (let i = 0; i < 3000; i++) made.push(Buffer.from(`f${(i * 7919) % 3001}${i % 3 === 0 ? '-' + 'x'.repeat(i % 200) : ''}`));
    made.push(Buffer.from('f'), Buffer.from('f1'), Buffer.from([0x66, 0xff]), Buffer.from([0x66, 0x80, 0x41]), Buffer.from('F'), Buffer.from('é'));
    for (const n of made) fs.writeFileSync(at(n), '');
    fs.mkdirSync(at(Buffer.from('sub')));
    const got = core!.readDir!(d);
    assert.ok(typeof got !== 'number');
    const [names, ends] = got;
    const want = fs.readdirSync(d, { encoding: 'buffer' }).sort(Buffer.compare);
    assert.equal(ends.length, want.length);
    let start = 0;
    for (let i = 0; i < want.length; i++) {
      assert.deepEqual(Buffer.from(names.subarray(start, ends[i])), want[i], `entry ${i}`);
      start = ends[i]!;
    }
    assert.equal(start, names.length);
    // Failures as a negative errno, which listDirectory turns into readdirSync's error.
    assert.equal(core!.readDir!(at(Buffer.from('nope'))), -os.constants.errno.ENOENT);
    assert.equal(core!.readDir!(at(made[0]!)), -os.constants.errno.ENOTDIR);
    for (const p of [at(Buffer.from('nope')), at(made[0]!)]) {
      const expected = (() => {
        try {
          fs.readdirSync(p);
        } catch (err) {
          return err as NodeJS.ErrnoException;
        }
      })()!;
      assert.throws(() => listDirectory(p), (err: NodeJS.ErrnoException) => err.code === expected.code && err.errno === expected.errno && err.message === expected.message && err.syscall === 'scandir');
    }
    assert.throws(() => core!.readDir!(Buffer.from('a\0b')), /readDir/);
    // An empty directory.
    const empty = core!.readDir!(at(Buffer.from('sub')));
    assert.ok(typeof empty !== 'number' && empty[0].length === 0 && empty[1].length === 0);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
