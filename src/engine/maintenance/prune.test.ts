import assert from 'node:assert/strict';
import { test } from 'node:test';
import { planPrune, type PackUsage } from './prune.js';

const id = (n: number) => Buffer.alloc(32, n);
const pack = (name: string, blobs: number[]): PackUsage => ({
  pack: name,
  size: blobs.length * 100 + 40,
  blobs: blobs.map((b, i) => ({ type: 'data', id: id(b), offset: i * 100, length: 100, rawLength: 100 })),
});
const used = (...n: number[]) => new Set(n.map((x) => id(x).toString('hex')));

test('prune plan: unused packs go, mostly used packs stay, partly used are repacked', () => {
  const plan = planPrune([pack('full', [1, 2, 3]), pack('dead', [4, 5]), pack('half', [6, 7, 8, 9])], used(1, 2, 3, 6, 7), ['orphan'], 0.1);
  assert.deepEqual(plan.keep, ['full']);
  assert.deepEqual(plan.remove, ['dead']);
  assert.deepEqual(plan.repack, ['half']);
  assert.deepEqual(plan.unindexed, ['orphan']);
  assert.equal(plan.wanted.get(id(6).toString('hex')), 'half');
});

test('prune plan: a blob stored twice is kept once, in the better pack', () => {
  const plan = planPrune([pack('a', [1, 2]), pack('b', [2])], used(1, 2), [], 0.1);
  assert.deepEqual(plan.keep, ['a']);
  assert.deepEqual(plan.remove, ['b']);
});

test('prune plan: nothing used, everything removed; everything used, nothing touched', () => {
  assert.deepEqual(planPrune([pack('a', [1])], used(), [], 0.1).remove, ['a']);
  const all = planPrune([pack('a', [1]), pack('b', [2])], used(1, 2), [], 0.5);
  assert.deepEqual([all.keep.sort(), all.remove, all.repack], [['a', 'b'], [], []]);
});
