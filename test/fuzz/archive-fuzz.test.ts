import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fuzzArchives, fuzzRepositories } from './archive-fuzz.js';

// CI runs a few hundred seeded cases of each; `npm run fuzz -- --cases 10000 [--repository]` runs as many as asked.
test('archive fuzzer: 300 seeded mutations — none accepted with changed content, no crash, no hang, nothing written outside the target', async () => {
  const r = await fuzzArchives({ cases: 300, seed: 7 });
  assert.deepEqual(r.failures, []);
  assert.ok(r.cases >= 250, `ran ${r.cases} cases`);
  assert.ok(r.refused > 0 && r.accepted > 0, `both refusals (${r.refused}) and acceptances (${r.accepted}) occur`);
});

test('repository fuzzer: 200 seeded mutations of a repository on disk — every damage is refused or reported, never restored silently changed', async () => {
  const r = await fuzzRepositories({ cases: 200, seed: 11 });
  assert.deepEqual(r.failures, []);
  assert.equal(r.cases, 200);
  assert.ok(r.refused > 0 && r.accepted > 0, `both refusals (${r.refused}) and clean restores (${r.accepted}) occur`);
});
