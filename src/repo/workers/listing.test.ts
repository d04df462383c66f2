import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { BigIntStats } from 'node:fs';
import { buildListing, entryStat, F_CTIME_S, F_INO, F_MTIME_S, F_SIZE, Listing } from './listing.js';

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
