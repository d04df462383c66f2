import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { createChunker, createReferenceChunker, DEFAULT_CHUNKER, gearBytes, type ChunkerParams } from '../chunker/fastcdc.js';
import { blobId, open, seal } from '../crypto/aead.js';
import { BlobCodec, ReferenceBlobCodec, SEAL_OVERHEAD } from '../format/blob.js';
import { nativeCore, nativeCoreStatus } from './core.js';

/**
 * The native core against the TypeScript reference: the same cut points, the same ids,
 * blobs that each reads of the other, and the same errors on damaged or crafted input.
 */
const core = nativeCore();

test('the native core is built on this machine (libzstd-dev is a prerequisite of npm test)', () => {
  // A machine without libzstd's headers builds Strongbox without the core (the reference runs);
  // the test machine must have it, or every comparison below would be skipped silently.
  assert.ok(existsSync('/usr/include/zstd.h'), 'libzstd-dev is missing: apt-get install libzstd-dev, then npm install');
  assert.deepEqual(nativeCoreStatus(), { active: true });
  assert.match(core!.zstdVersion, /^1\.\d+\.\d+$/);
});

/** Data like a backup's: random, text, long zero runs (disk images), a few short zero runs. */
function mixed(size: number): Buffer {
  const out = Buffer.alloc(size);
  let at = 0;
  let k = 0;
  while (at < size) {
    const kind = k++ % 4;
    const n = Math.min(size - at, 300_000 + ((k * 7919) % 3_000_000));
    if (kind === 0) randomBytes(n).copy(out, at);
    else if (kind === 1) Buffer.from('INSERT INTO notes VALUES (1, "a note about nothing in particular");\n'.repeat(Math.ceil(n / 64))).copy(out, at, 0, n);
    else if (kind === 3) randomBytes(n).copy(out, at, 0, n - 5000); // and a short zero tail
    at += n;
  }
  return out;
}

function cuts(cut: (b: Uint8Array, s: number, e: number) => number, data: Buffer): number[] {
  const out: number[] = [];
  for (let pos = 0; pos < data.length; ) {
    const n = cut(data, pos, data.length);
    out.push(n);
    pos += n;
  }
  return out;
}

test('native FastCDC cuts where the reference cuts (default and small parameters, zero runs, every seed)', () => {
  const data = mixed(40 << 20);
  const small: ChunkerParams = { min: 2048, avg: 8192, max: 65536 };
  const odd: ChunkerParams = { min: 1000, avg: 3000, max: 20000 };
  for (const params of [DEFAULT_CHUNKER, small, odd]) {
    for (const seed of [Buffer.alloc(32, 7), randomBytes(32), Buffer.alloc(32)]) {
      const input = params === DEFAULT_CHUNKER ? data : data.subarray(0, 4 << 20);
      const want = cuts(createReferenceChunker(params, seed).cut, input);
      const got = cuts(createChunker(params, seed, core).cut, input);
      assert.deepEqual(got, want, `cut points differ for ${JSON.stringify(params)}`);
    }
  }
});

test('native scan gives the final chunks of a buffer and their ids, as the reference loop does', () => {
  const seed = randomBytes(32);
  const mac = randomBytes(32);
  const handle = core!.codec(randomBytes(32), mac, 3, gearBytes(seed), DEFAULT_CHUNKER.min, DEFAULT_CHUNKER.avg, DEFAULT_CHUNKER.max);
  const ref = createReferenceChunker(DEFAULT_CHUNKER, seed);
  const data = mixed(24 << 20);
  // Whole zero chunks too: their ids come from a cache.
  data.fill(0, 3 << 20, 12 << 20);
  const ids = Buffer.alloc(32 * 64);
  const lens = new Uint32Array(64);
  for (const eof of [true, false]) {
    const count = core!.scan(handle, data, data.length, eof, ids, lens);
    let start = 0;
    const want: number[] = [];
    while (start < data.length) {
      const n = ref.cut(data, start, data.length);
      if (!eof && start + n === data.length && n < DEFAULT_CHUNKER.max) break;
      want.push(n);
      start += n;
    }
    assert.deepEqual([...lens.subarray(0, count)], want);
    let at = 0;
    for (let i = 0; i < count; i++) {
      assert.ok(ids.subarray(i * 32, i * 32 + 32).equals(blobId(mac, data.subarray(at, at + lens[i]!))), `id of chunk ${i}`);
      at += lens[i]!;
    }
  }
  // A full id buffer stops the scan: the rest is scanned next time.
  assert.equal(core!.scan(handle, data, data.length, true, Buffer.alloc(64), lens), 2);
});

test('native ids are HMAC-SHA-256 under the id key', () => {
  const mac = randomBytes(32);
  const handle = core!.codec(randomBytes(32), mac, 3, new Uint8Array(1024), 1, 1, 1);
  for (const n of [0, 1, 55, 56, 64, 1000, 1 << 20]) {
    const data = randomBytes(n);
    assert.ok(core!.id(handle, data).equals(blobId(mac, data)), `${n} bytes`);
  }
});

test('blobs encoded natively decode with the reference and the other way round, with the same encoding chosen', () => {
  const enc = randomBytes(32);
  const mac = randomBytes(32);
  const native = new BlobCodec(enc, mac, 3);
  const reference = new ReferenceBlobCodec(enc, mac, 3);
  assert.equal(native.native, true);
  const zeroTail = Buffer.concat([randomBytes(600_000), Buffer.alloc(600_000)]);
  const inputs = [
    Buffer.alloc(0),
    Buffer.from('x'),
    Buffer.from('a'.repeat(63)),
    Buffer.from('a'.repeat(64)),
    randomBytes(100),
    Buffer.from('hello world, '.repeat(20_000)),
    randomBytes(1 << 20),
    Buffer.alloc(8 << 20),
    zeroTail,
    mixed(3 << 20),
  ];
  for (const raw of inputs) {
    const a = native.encode(raw);
    const b = reference.encode(raw);
    assert.ok(reference.decode(a, blobId(mac, raw)).equals(raw), `reference reads native (${raw.length} bytes)`);
    assert.ok(native.decode(b, blobId(mac, raw)).equals(raw), `native reads reference (${raw.length} bytes)`);
    assert.ok(native.decodeTransient(b, blobId(mac, raw)).equals(raw), `native reads reference into its reused buffer (${raw.length} bytes)`);
    assert.equal(open(enc, a)[0], open(enc, b)[0], `same encoding for ${raw.length} bytes`);
    assert.ok(Math.abs(a.length - b.length) <= Math.max(64, b.length * 0.01), `sizes ${a.length} vs ${b.length}`);
    assert.ok(!a.subarray(0, 12).equals(native.encode(raw).subarray(0, 12)), 'a fresh nonce each time');
  }
});

test('encodeInto writes the same format at an offset of a reused buffer, and refuses a buffer without room', () => {
  const enc = randomBytes(32);
  const mac = randomBytes(32);
  const reference = new ReferenceBlobCodec(enc, mac, 3);
  for (const codec of [new BlobCodec(enc, mac, 3), new BlobCodec(enc, mac, 3, null)]) {
    const out = Buffer.alloc((9 << 20) + 1000, 0xee);
    let at = 7;
    const placed: [Buffer, number, number][] = [];
    for (const raw of [Buffer.alloc(0), Buffer.from('x'), randomBytes(100_000), Buffer.from('hello world, '.repeat(20_000)), Buffer.alloc(1 << 20), randomBytes(8 << 20)]) {
      if (at + raw.length + SEAL_OVERHEAD > out.length) at = 0;
      const n = codec.encodeInto(raw, out, at);
      assert.ok(n <= raw.length + SEAL_OVERHEAD, `${raw.length} bytes sealed into at most ${raw.length + SEAL_OVERHEAD}`);
      placed.push([raw, at, n]);
      assert.ok(reference.decode(out.subarray(at, at + n), blobId(mac, raw)).equals(raw), `${codec.native ? 'native' : 'reference'}: ${raw.length} bytes at ${at}`);
      at += n;
    }
    assert.equal(out[out.length - 1], 0xee, 'nothing written past the blobs');
    const full = Buffer.alloc(100 + SEAL_OVERHEAD - 1, 0xee);
    assert.throws(() => codec.encodeInto(randomBytes(100), full, 0), /room/);
    assert.ok(full.every((b) => b === 0xee), 'nothing written when there is no room');
    assert.throws(() => codec.encodeInto(randomBytes(10), Buffer.alloc(100), 80), /room/);
  }
  // The native check holds on its own, below the TypeScript one.
  const handle = core!.codec(enc, mac, 3, new Uint8Array(1024), 1, 1, 1);
  assert.throws(() => core!.encodeInto!(handle, randomBytes(100), Buffer.alloc(128), 0), /room/);
  assert.throws(() => core!.encodeInto!(handle, randomBytes(100), Buffer.alloc(1000), 900), /room/);
  assert.ok(core!.encodeInto!(handle, randomBytes(100), Buffer.alloc(1000), 1000 - 129) === 129);
});

test('decodeInPlace decrypts in the sealed bytes and gives what decode gives; damage and a wrong id fail the same way', () => {
  const enc = randomBytes(32);
  const mac = randomBytes(32);
  const native = new BlobCodec(enc, mac, 3);
  const reference = new ReferenceBlobCodec(enc, mac, 3);
  const inputs = [Buffer.from('x'), randomBytes(100), Buffer.from('hello world, '.repeat(20_000)), randomBytes(1 << 20), Buffer.alloc(8 << 20), Buffer.from('a tree of a huge directory '.repeat(400_000))];
  for (const raw of inputs) {
    const sealed = reference.encode(raw);
    const copy = Buffer.from(sealed);
    const out = native.decodeInPlace(copy, blobId(mac, raw));
    assert.ok(out.equals(raw), `${raw.length} bytes`);
    assert.ok(!copy.equals(sealed), 'decrypted in place');
    assert.throws(() => native.decodeInPlace(Buffer.from(sealed), blobId(mac, Buffer.from('other'))), (e: Error & { code?: string }) => e.code === 'CORRUPT' && /does not match its id/.test(e.message));
    const damaged = Buffer.from(sealed);
    damaged[damaged.length >> 1]! ^= 1;
    assert.throws(() => native.decodeInPlace(damaged, blobId(mac, raw), 'data blob x'), (e: Error & { code?: string }) => e.code === 'CORRUPT' && /^data blob x failed authentication/.test(e.message));
  }
  assert.throws(() => native.decodeInPlace(Buffer.alloc(20), undefined), /too short/);
});

test('a blob larger than the reused buffer decodes into a buffer of its own', () => {
  const enc = randomBytes(32);
  const mac = randomBytes(32);
  const native = new BlobCodec(enc, mac, 3);
  for (const raw of [randomBytes(9 << 20), Buffer.from('a tree of a huge directory '.repeat(400_000))]) {
    const sealed = new ReferenceBlobCodec(enc, mac, 3).encode(raw);
    const small = native.decodeTransient(new ReferenceBlobCodec(enc, mac, 3).encode(Buffer.from('small')), undefined);
    assert.equal(small.toString(), 'small');
    const out = native.decodeTransient(sealed, blobId(mac, raw));
    assert.ok(out.equals(raw));
    assert.equal(native.decodeTransient(new ReferenceBlobCodec(enc, mac, 3).encode(Buffer.from('again')), undefined).toString(), 'again');
    assert.ok(out.equals(raw), 'the large result is not overwritten by the next call');
  }
});

test('damaged and crafted blobs fail the same way in both', () => {
  const enc = randomBytes(32);
  const mac = randomBytes(32);
  const native = new BlobCodec(enc, mac, 3);
  const reference = new ReferenceBlobCodec(enc, mac, 3);
  const raw = Buffer.from('some content '.repeat(1000));
  const good = reference.encode(raw);
  const zstdOf = (plain: Buffer) => reference.encode(plain).subarray(0); // helper for a real frame
  const frame = open(enc, zstdOf(raw)).subarray(1);
  // A frame that claims 40 TiB (its content-size field rewritten), sealed with the right key.
  const absurd = Buffer.from(frame);
  absurd[4] = 0xe0; // 8-byte content size, single segment
  const bomb = Buffer.concat([absurd.subarray(0, 5), Buffer.from([0, 0, 0, 0, 0, 0x28, 0, 0]), absurd.subarray(7)]);
  const cases: [string, Buffer, Buffer | undefined][] = [
    ['flipped byte', Buffer.from(good).fill(good[20]! ^ 1, 20, 21), undefined],
    ['wrong key', new ReferenceBlobCodec(randomBytes(32), mac, 3).encode(raw), undefined],
    ['too short', good.subarray(0, 20), undefined],
    ['wrong id', good, randomBytes(32)],
    ['unknown encoding', seal(enc, [Uint8Array.of(7), raw]), undefined],
    ['no declared size', seal(enc, [Uint8Array.of(1), Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x00])]), undefined],
    ['absurd declared size', seal(enc, [Uint8Array.of(1), bomb]), undefined],
    ['not a zstd frame', seal(enc, [Uint8Array.of(1), Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x20, 0x10, 1, 2, 3])]), undefined],
  ];
  for (const [name, sealed, id] of cases) {
    let want: Error | undefined;
    let got: Error | undefined;
    try {
      reference.decode(sealed, id, 'blob X');
    } catch (err) {
      want = err as Error;
    }
    try {
      native.decode(sealed, id, 'blob X');
    } catch (err) {
      got = err as Error;
    }
    let transient: Error | undefined;
    try {
      native.decodeTransient(sealed, id, 'blob X');
    } catch (err) {
      transient = err as Error;
    }
    assert.equal(transient?.message, got?.message, `${name}: decodeTransient refuses it as decode does`);
    assert.ok(want && got, `${name}: both refuse it (reference: ${want?.message}, native: ${got?.message})`);
    assert.equal((got as { code?: string }).code, 'CORRUPT', name);
    assert.equal((want as { code?: string }).code, 'CORRUPT', name);
    if (name !== 'not a zstd frame') assert.equal(got.message, want.message, name);
    assert.match(got.message, /^blob X /);
  }
});

test('release gives the whole pages past an offset back: they read as zeros, the bytes before stay', () => {
  const page = 4096;
  const buf = Buffer.allocUnsafeSlow(9 * 1024 * 1024).fill(0xaa);
  const from = 5 * 1024 * 1024 + 100;
  const released = core!.release!(buf, from);
  // From the first page boundary at or after `from` to the last one before the end.
  assert.ok(released >= buf.length - from - 2 * page && released <= buf.length - from, `released ${released} bytes`);
  assert.ok(buf.subarray(0, from).every((b) => b === 0xaa), 'the bytes before the offset are kept');
  const zeros = buf.subarray(from + page, from + page + released - page);
  assert.ok(zeros.length > 0 && zeros.every((b) => b === 0), 'the pages given back read as zeros');
  assert.equal(core!.release!(buf, buf.length), 0, 'nothing past the end');
  assert.throws(() => core!.release!(buf, buf.length + 1), /release\(buf, from\)/);
  assert.throws(() => core!.release!(buf, -1), /release\(buf, from\)/);
});
