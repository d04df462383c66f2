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
