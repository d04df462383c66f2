import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mapConcurrent } from './concurrency.js';

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('mapConcurrent keeps the order of its items and never runs more than its limit', async () => {
  let running = 0;
  let most = 0;
  const out = await mapConcurrent([5, 1, 4, 2, 3, 0, 6], 3, async (n, i) => {
    running++;
    most = Math.max(most, running);
    await tick(n * 3);
    running--;
    return `${i}:${n}`;
  });
  assert.deepEqual(out, ['0:5', '1:1', '2:4', '3:2', '4:3', '5:0', '6:6']);
  assert.equal(most, 3);
  assert.deepEqual(await mapConcurrent([], 4, async () => 1), []);
});

test('mapConcurrent throws the first failure after the calls in flight settle, and starts no more', async () => {
  const started: number[] = [];
  let settled = 0;
  await assert.rejects(
    mapConcurrent([0, 1, 2, 3, 4, 5], 2, async (n) => {
      started.push(n);
      try {
        await tick(n === 1 ? 1 : 10);
        if (n === 1) throw new Error('one failed');
        return n;
      } finally {
        settled++;
      }
    }),
    /one failed/,
  );
  // 0 and 1 start; 1 fails, so nothing after it starts; 0 has settled by the time it throws.
  assert.deepEqual(started, [0, 1]);
  assert.equal(settled, 2);
});
