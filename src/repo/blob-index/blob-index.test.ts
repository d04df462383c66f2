import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { BlobIndex } from './blob-index.js';

test('blob index stores, finds and grows; first location wins', () => {
  const idx = new BlobIndex(4);
  const ids = Array.from({ length: 5000 }, () => randomBytes(32));
  ids.forEach((id, i) => assert.equal(idx.add(id, { type: i % 2 ? 'tree' : 'data', pack: `p${i % 7}`, offset: i, length: i * 2, rawLength: i * 3 }), true));
  assert.equal(idx.size, 5000);
  ids.forEach((id, i) => assert.deepEqual(idx.get(id), { type: i % 2 ? 'tree' : 'data', pack: `p${i % 7}`, offset: i, length: i * 2, rawLength: i * 3 }));
  assert.equal(idx.add(ids[0]!, { type: 'data', pack: 'other', offset: 9, length: 9, rawLength: 9 }), false);
  assert.equal(idx.get(ids[0]!)!.pack, 'p0');
  assert.equal(idx.has(randomBytes(32)), false);
  assert.equal([...idx.entries()].length, 5000);
});

test('blob index: entries across several segments, ids whose hash bytes collide, insertion order kept', () => {
  const idx = new BlobIndex();
  const ids = Array.from({ length: 140_000 }, () => randomBytes(32));
  // 200 ids that share their first 8 bytes: they all probe from the same slot.
  const same = randomBytes(8);
  for (let i = 0; i < 200; i++) ids.push(Buffer.concat([same, randomBytes(24)]));
  ids.forEach((id, i) => assert.equal(idx.add(id, { type: 'data', pack: `p${i >> 12}`, offset: i, length: i + 1, rawLength: i + 2 }), true));
  assert.equal(idx.size, ids.length);
  for (let i = 0; i < ids.length; i += 997) assert.deepEqual(idx.get(ids[i]!), { type: 'data', pack: `p${i >> 12}`, offset: i, length: i + 1, rawLength: i + 2 });
  for (let i = ids.length - 200; i < ids.length; i++) assert.equal(idx.get(ids[i]!)!.offset, i);
  assert.equal(idx.has(Buffer.concat([same, randomBytes(24)])), false);
  let n = 0;
  for (const [id, loc] of idx.entries()) {
    assert.ok(id.equals(ids[n]!));
    assert.equal(loc.offset, n++);
  }
  assert.equal(n, ids.length);
});

test('blob index: reserved once for what an index will hold, entries added from their place in an index file, as add would', () => {
  const file = randomBytes(32 * 70_000);
  const a = new BlobIndex();
  const b = new BlobIndex();
  a.add(randomBytes(32), { type: 'tree', pack: 'before', offset: 1, length: 2, rawLength: 3 });
  b.add(Buffer.from(a.entries().next().value![0]), { type: 'tree', pack: 'before', offset: 1, length: 2, rawLength: 3 });
  b.reserve(70_001);
  b.reserve(10); // never shrinks
  const p = b.packNumber('pack-1');
  assert.equal(b.packNumber('pack-1'), p);
  for (let i = 0; i < 70_000; i++) {
    const type = i % 3 ? 'data' : 'tree';
    assert.equal(a.add(file.subarray(32 * i, 32 * i + 32), { type, pack: 'pack-1', offset: i, length: i + 1, rawLength: i + 2 }), true);
    assert.equal(b.addAt(file, 32 * i, type, p, i, i + 1, i + 2), true);
  }
  // The same id again keeps its first place, from either entry point.
  assert.equal(b.addAt(file, 32 * 5, 'data', b.packNumber('pack-2'), 9, 9, 9), false);
  assert.equal(b.add(file.subarray(32 * 6, 32 * 7), { type: 'data', pack: 'pack-2', offset: 9, length: 9, rawLength: 9 }), false);
  assert.equal(b.size, a.size);
  assert.deepEqual([...b.entries()], [...a.entries()]);
  for (let i = 0; i < 70_000; i += 101) assert.deepEqual(b.get(file.subarray(32 * i, 32 * i + 32)), a.get(file.subarray(32 * i, 32 * i + 32)));
  assert.equal(b.has(randomBytes(32)), false);
});
