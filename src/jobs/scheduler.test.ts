import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock } from '../kernel/index.js';
import { describeCron } from './cron-text.js';
import { intervalMs, nextRuns, resolveCron, type Schedule } from './schedule.js';
import { Scheduler, type FireResult } from './scheduler.js';

function schedule(over: Partial<Schedule>): Schedule {
  return { id: 's1', name: 'nightly', kind: 'backup', app: 'notes', destination: null, cron: '0 2 * * *', timezone: 'UTC', paused: false, retention: {}, tags: [], createdAt: '2026-01-01T00:00:00Z', updatedAt: '2026-01-01T00:00:00Z', lastRunAt: null, lastJobId: null, lastOutcome: null, skipped: 0, ...over };
}

function harness(list: Schedule[], start: string, busy = () => false) {
  const clock = new ManualClock(start);
  const fired: string[] = [];
  const sched = new Scheduler({ list: async () => list }, async (s, at): Promise<FireResult> => {
    if (busy()) return { started: false, reason: 'busy' };
    fired.push(`${s.name}@${at.toISOString()}`);
    return { started: true, jobId: 'j' };
  }, clock);
  return { clock, fired, sched };
}

test('scheduler: fires once when the time comes, not before, not twice', async () => {
  const h = harness([schedule({})], '2026-03-01T01:59:00Z');
  await h.sched.tick();
  assert.deepEqual(h.fired, []);
  h.clock.set('2026-03-01T02:00:00Z');
  await h.sched.tick();
  h.clock.set('2026-03-01T02:00:30Z');
  await h.sched.tick();
  assert.deepEqual(h.fired, ['nightly@2026-03-01T02:00:00.000Z']);
  h.clock.set('2026-03-02T02:00:01Z');
  await h.sched.tick();
  assert.deepEqual(h.fired, ['nightly@2026-03-01T02:00:00.000Z', 'nightly@2026-03-02T02:00:00.000Z']);
});

test('scheduler: missed runs while down are not made up one by one (one run at most per tick)', async () => {
  const h = harness([schedule({ cron: '0 * * * *' })], '2026-03-01T00:30:00Z');
  h.clock.set('2026-03-01T05:10:00Z');
  await h.sched.tick();
  assert.equal(h.fired.length, 1);
  await h.sched.tick();
  assert.equal(h.fired.length, 1);
});

test('scheduler: a paused schedule never fires, and resuming does not fire the missed runs', async () => {
  const list = [schedule({ paused: true })];
  const h = harness(list, '2026-03-01T01:00:00Z');
  h.clock.set('2026-03-01T03:00:00Z');
  await h.sched.tick();
  assert.deepEqual(h.fired, []);
  list[0] = { ...list[0]!, paused: false, updatedAt: '2026-03-01T03:00:00Z' };
  h.clock.set('2026-03-01T03:00:05Z');
  await h.sched.tick();
  assert.deepEqual(h.fired, []);
  h.clock.set('2026-03-02T02:00:00Z');
  await h.sched.tick();
  assert.deepEqual(h.fired, ['nightly@2026-03-02T02:00:00.000Z']);
});

test('scheduler: time zones are honoured (02:00 in Paris is 01:00 UTC in winter)', async () => {
  const h = harness([schedule({ timezone: 'Europe/Paris' })], '2026-01-10T00:30:00Z');
  h.clock.set('2026-01-10T01:00:00Z');
  await h.sched.tick();
  assert.deepEqual(h.fired, ['nightly@2026-01-10T01:00:00.000Z']);
});

test('scheduler: a busy run is reported by fire and the next time still comes', async () => {
  let busy = true;
  const h = harness([schedule({ cron: '*/10 * * * *' })], '2026-03-01T00:00:00Z', () => busy);
  h.clock.set('2026-03-01T00:10:00Z');
  const r = await h.sched.tick();
  assert.deepEqual(r.map((x) => x.result), [{ started: false, reason: 'busy' }]);
  busy = false;
  h.clock.set('2026-03-01T00:20:00Z');
  await h.sched.tick();
  assert.deepEqual(h.fired, ['nightly@2026-03-01T00:20:00.000Z']);
});

const cronCases: [string, string, string][] = [
  ['hourly', '0 * * * *', 'every hour at minute 0'],
  ['daily', '0 2 * * *', 'every day at 02:00 (UTC)'],
  ['weekly', '0 3 * * 0', 'every Sunday at 03:00 (UTC)'],
  ['30 1 * * 1-5', '30 1 * * 1-5', 'every weekday at 01:30 (UTC)'],
  ['*/15 * * * *', '*/15 * * * *', 'every 15 minutes'],
  ['*/5 * * * * *', '*/5 * * * * *', 'every 5 seconds'],
  ['0 4 1 * *', '0 4 1 * *', 'on day 1 of every month at 04:00 (UTC)'],
];
for (const [input, cron, words] of cronCases) {
  test(`cron: ${input} → ${words}`, () => {
    assert.equal(resolveCron(input), cron);
    assert.equal(describeCron(cron, 'UTC'), words);
  });
}

test('cron: bad expressions and zones are refused with the fix', () => {
  assert.throws(() => resolveCron('every day'), /not a schedule: use hourly, daily, weekly or a cron expression/);
  assert.throws(() => resolveCron('0 2 * * *', 'Mars/Olympus'), /time zone/);
});

test('cron: next runs and interval are pure functions of the expression and the time', () => {
  assert.deepEqual(nextRuns('0 2 * * *', 'UTC', new Date('2026-03-01T02:00:00Z'), 2).map((d) => d.toISOString()), ['2026-03-02T02:00:00.000Z', '2026-03-03T02:00:00.000Z']);
  assert.equal(intervalMs('0 */6 * * *', 'UTC', new Date('2026-03-01T00:00:00Z')), 6 * 3600e3);
});
