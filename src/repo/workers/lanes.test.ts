import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Lanes } from './lanes.js';

test('lanes lend each resource to one job at a time, in order of asking, and take it back on failure', async () => {
  const lanes = new Lanes(['a', 'b']);
  const inUse = new Set<string>();
  let most = 0;
  const order: number[] = [];
  const jobs = Array.from({ length: 12 }, (_, i) =>
    lanes.run(async (lane) => {
      assert.ok(!inUse.has(lane), `lane ${lane} lent twice`);
      inUse.add(lane);
      most = Math.max(most, inUse.size);
      order.push(i);
      await sleep(i % 3);
      inUse.delete(lane);
      if (i === 5) throw new Error('job 5 fails');
      return i;
    }),
  );
  const settled = await Promise.allSettled(jobs);
  assert.equal(most, 2, 'both lanes were used at once, never more');
  assert.deepEqual(order, [...order].sort((x, y) => x - y), 'jobs started in the order they asked');
  assert.equal(settled.filter((s) => s.status === 'rejected').length, 1);
  // The failed job's lane came back: two more jobs run at once.
  let running = 0;
  let peak = 0;
  await Promise.all([1, 2].map(() => lanes.run(async () => { running++; peak = Math.max(peak, running); await sleep(2); running--; })));
  assert.equal(peak, 2);
  assert.throws(() => new Lanes([]), RangeError);
});
