import assert from 'node:assert/strict';
import { test } from 'node:test';
import { torture } from './crash-points.js';

// CI runs a few rounds; `npm run torture -- --rounds 100` runs as many as asked.
test('crash points: backups, forget, prune and copies killed with SIGKILL at random moments leave repositories that check clean and snapshots that restore', async () => {
  const r = await torture({ rounds: 8, seed: 5 });
  assert.deepEqual(r.failures, []);
  assert.ok(r.killed >= 4, `${r.killed} of ${r.rounds} rounds were killed mid-run`);
  assert.ok(r.restored > 0);
});
