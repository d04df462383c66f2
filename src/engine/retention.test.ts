import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyRetention, isEmptyPolicy, parseDuration, type RetentionPolicy } from './retention.js';

const now = new Date('2026-03-15T12:00:00Z');
/** One snapshot every 6 hours for 90 days before `now`. */
const series = Array.from({ length: 360 }, (_, i) => ({ id: `s${String(i).padStart(3, '0')}`, time: new Date(now.getTime() - i * 6 * 3600e3).toISOString(), tags: i === 200 ? ['release'] : [] }));

function kept(policy: RetentionPolicy, items = series): string[] {
  return applyRetention(items, policy, now).filter((d) => d.keep).map((d) => d.id).sort();
}

const cases: { name: string; policy: RetentionPolicy; expect: number | string[] }[] = [
  { name: 'keep-last 3', policy: { keepLast: 3 }, expect: ['s000', 's001', 's002'] },
  { name: 'keep-daily 7 keeps the newest of each of 7 days', policy: { keepDaily: 7 }, expect: ['s000', 's003', 's007', 's011', 's015', 's019', 's023'] },
  { name: 'keep-hourly 5 keeps 5 distinct hours', policy: { keepHourly: 5 }, expect: 5 },
  { name: 'keep-weekly 4', policy: { keepWeekly: 4 }, expect: 4 },
  { name: 'keep-monthly 12 stops at the months that exist', policy: { keepMonthly: 12 }, expect: 4 },
  { name: 'keep-yearly 3', policy: { keepYearly: 3 }, expect: 2 },
  { name: 'keep-within 2d', policy: { keepWithinMs: 2 * 86400e3 }, expect: 9 },
  { name: 'keep-tag', policy: { keepLast: 1, keepTags: ['release'] }, expect: ['s000', 's200'] },
  { name: 'rules combine as a union', policy: { keepLast: 2, keepDaily: 2 }, expect: ['s000', 's001', 's003'] },
];

for (const c of cases) {
  test(`retention: ${c.name}`, () => {
    const got = kept(c.policy);
    if (typeof c.expect === 'number') assert.equal(got.length, c.expect, got.join(','));
    else assert.deepEqual(got, c.expect);
  });
}

test('retention: the newest snapshot is always kept, whatever the policy', () => {
  const d = applyRetention(series, { keepWithinMs: 1 }, new Date('2030-01-01T00:00:00Z'));
  assert.deepEqual(d.filter((x) => x.keep).map((x) => [x.id, x.reasons]), [['s000', ['newest successful']]]);
});

test('retention: reasons explain each kept snapshot', () => {
  const d = applyRetention(series, { keepLast: 1, keepDaily: 1 }, now);
  assert.deepEqual(d[0]!.reasons, ['last 1', 'daily 2026-03-15']);
});

test('retention: an empty policy is recognised', () => {
  assert.equal(isEmptyPolicy({}), true);
  assert.equal(isEmptyPolicy({ keepLast: 0 }), true);
  assert.equal(isEmptyPolicy({ keepDaily: 1 }), false);
});

test('durations parse and reject garbage', () => {
  assert.equal(parseDuration('30d'), 30 * 86400e3);
  assert.equal(parseDuration('1y6m'), 365 * 86400e3 + 180 * 86400e3);
  assert.equal(parseDuration('90min'), 90 * 60e3);
  assert.equal(parseDuration('12h'), 12 * 3600e3);
  assert.throws(() => parseDuration('soon'));
  assert.throws(() => parseDuration('5 parsecs'));
});

/** s0 newest … s5 oldest, one a day, with statuses and pins as given. */
function week(statuses: string[], pinned: number[] = []) {
  return statuses.map((status, i) => ({ id: `s${i}`, time: new Date(now.getTime() - i * 86400e3).toISOString(), tags: [], status, pinned: pinned.includes(i) }));
}

const statusCases: { name: string; items: ReturnType<typeof week>; policy: RetentionPolicy; expect: string[] }[] = [
  { name: 'a TTL of 2 days keeps what is younger', items: week(['completed', 'completed', 'completed', 'completed']), policy: { keepWithinMs: 2 * 86400e3 }, expect: ['s0', 's1', 's2'] },
  { name: 'failed snapshots are not counted by keep-last', items: week(['failed', 'completed', 'failed', 'completed', 'completed']), policy: { keepLast: 2 }, expect: ['s1', 's3'] },
  { name: 'the newest successful snapshot survives a TTL that would drop everything', items: week(['failed', 'failed', 'completed', 'completed']), policy: { keepWithinMs: 1000 }, expect: ['s0', 's2'] },
  { name: 'a partially failed snapshot counts, but the newest completed one is kept too', items: week(['partially_failed', 'partially_failed', 'completed']), policy: { keepLast: 1 }, expect: ['s0', 's2'] },
  { name: 'pinned snapshots are never forgotten', items: week(['completed', 'completed', 'completed', 'completed', 'completed'], [4, 2]), policy: { keepLast: 1 }, expect: ['s0', 's2', 's4'] },
  { name: 'pins and TTL together', items: week(['completed', 'completed', 'completed', 'completed', 'completed'], [3]), policy: { keepWithinMs: 1.5 * 86400e3 }, expect: ['s0', 's1', 's3'] },
  { name: 'only failed snapshots: none is kept by count rules', items: week(['failed', 'failed']), policy: { keepLast: 5 }, expect: [] },
];

for (const c of statusCases) {
  test(`retention: ${c.name}`, () => {
    assert.deepEqual(kept(c.policy, c.items), c.expect);
  });
}

test('retention: the newest snapshot a drill proved restorable is kept even when keep-last would drop it', () => {
  const items = series.slice(0, 10).map((s) => (s.id === 's006' ? { ...s, verified: true } : s));
  const d = applyRetention(items, { keepLast: 2 }, now);
  assert.deepEqual(d.filter((x) => x.keep).map((x) => [x.id, x.reasons]), [['s000', ['last 1']], ['s001', ['last 2']], ['s006', ['newest verified']]]);
});

test('retention: the newest verified snapshot is per application, from passed drills only', async () => {
  const { newestVerified } = await import('./maintenance/forget.js');
  const snap = (id: string, time: string) => ({ id, snapshot: { time } }) as never;
  const snaps = [snap('a1', '2026-01-01'), snap('a2', '2026-01-02'), snap('a3', '2026-01-03'), snap('a4', '2026-01-04')];
  const drills = [
    { snapshot: 'a1', status: 'passed', apps: ['notes', 'shop'] },
    { snapshot: 'a2', status: 'passed', apps: ['notes'] },
    { snapshot: 'a3', status: 'failed', apps: ['shop'] },
    { snapshot: 'a4', status: 'passed', apps: [] },
    { bogus: true },
  ];
  assert.deepEqual([...newestVerified(snaps, drills)].sort(), ['a1', 'a2']);
});
