import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { pino } from 'pino';
import { ManualClock } from '../../kernel/index.js';
import { openInstance, type Instance } from '../../app/index.js';
import type { JobRecord } from '../../jobs/index.js';
import { addDestination, addSchedule, createSnapshot, forgetSnapshots, perform, verificationOf, verificationStatus, type Caller } from '../../operations/index.js';
import { ServerCore } from './core.js';
import { renderMetrics } from './metrics.js';
import { verificationChanges } from './notify.js';

// A weekly drill schedule driven by the manual clock, through the server's core: the scheduler fires the drill,
// the record reaches the repository and the catalog, the status, the metrics and the notifications follow the
// objective, and retention keeps the newest verified snapshot.

const root = mkdtempSync(join(tmpdir(), 'sb-verify-'));
const admin: Caller = { actor: 'alice', role: 'admin', ip: null };
let inst: Instance;
let core: ServerCore;
let clock: ManualClock;
let hook: Server;
const posts: { event: string; app?: string; summary: string }[] = [];
const finished = new Map<string, (j: JobRecord) => void>();
const done: JobRecord[] = [];

function waitJob(id: string): Promise<JobRecord> {
  const seen = done.find((j) => j.id === id);
  if (seen) return Promise.resolve(seen);
  return new Promise((resolve) => finished.set(id, resolve));
}

async function snapshot(): Promise<string> {
  return (await perform(createSnapshot, core.env, { apps: ['site'], where: { destination: null }, tags: [] }, admin, {})).id;
}

async function until(what: string, f: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !f(); i++) await new Promise((r) => setTimeout(r, 50));
  assert.ok(f(), what);
}

before(async () => {
  mkdirSync(join(root, 'data'));
  writeFileSync(join(root, 'data', 'a.txt'), 'hello');
  inst = await openInstance(join(root, 'home'));
  await inst.applications.put('site', '1.0.0', `apiVersion: strongbox/v1\nkind: Application\nmetadata: { name: site, version: 1.0.0 }\nspec:\n  components:\n    - name: www\n      files: { path: ${join(root, 'data')} }\n`, false);
  await addDestination(inst, { name: 'local', location: join(root, 'repo'), passwordRef: inst.sealSecret('pw-for-tests'), password: 'pw-for-tests', init: true, makeDefault: true });
  hook = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      posts.push(JSON.parse(body) as { event: string; app?: string; summary: string });
      res.end('ok');
    });
  });
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
  clock = new ManualClock(new Date('2026-06-06T12:00:00Z')); // a Saturday
  core = new ServerCore({ inst, log: pino({ level: 'silent' }), clock, tickMs: 3600e3 });
  core.runner.onFinished((j) => {
    done.push(j);
    finished.get(j.id)?.(j);
  });
  const port = (hook.address() as { port: number }).port;
  await core.notifier.save({ webhooks: [{ url: `http://127.0.0.1:${port}/hook`, events: ['failure', 'recovery', 'unverified'] }] });
});

after(async () => {
  await core.stop();
  await inst.close();
  hook.close();
  rmSync(root, { recursive: true, force: true });
});

test('a weekly drill schedule on the manual clock: fired, recorded, and the objective watched (status, metrics, notifications, retention)', async () => {
  const s1 = await snapshot();
  await addSchedule(core.env, { name: 'site-drill', kind: 'drill', app: 'site', cron: 'weekly', timezone: 'UTC', retention: {}, tags: [], objective: '8d' }, admin);

  let [v] = await verificationStatus(core.env);
  assert.equal(v!.verified, null);
  assert.equal(v!.objectiveSeconds, 8 * 86400);
  assert.equal(v!.overdue, false, 'a new schedule is not overdue before its objective has passed');
  await core.checkVerification();

  // Saturday: nothing. Sunday 03:00: the drill runs, of the latest snapshot.
  await core.scheduler.tick();
  assert.equal(done.length, 0);
  clock.set('2026-06-07T03:00:00Z');
  await core.scheduler.tick();
  const fired = (await inst.jobs.list({ kind: 'drill', limit: 5 }))[0];
  assert.ok(fired, 'the schedule started a drill job');
  assert.equal(fired.scheduleId, (await inst.schedules.get('site-drill')).id);
  const j1 = await waitJob(fired.id);
  assert.equal(j1.phase, 'completed', j1.errors.join('; '));
  assert.equal((j1.result as { snapshot: string }).snapshot, s1);

  [v] = await verificationStatus(core.env);
  assert.equal(v!.verified?.snapshot, s1);
  assert.equal(v!.ageSeconds, 15 * 3600);
  assert.equal(v!.overdue, false);
  assert.equal(v!.lastDrill?.status, 'passed');
  let metrics = await renderMetrics(core);
  assert.match(metrics, /strongbox_app_verified_age_seconds\{app="site"\} 54000\n/);
  assert.match(metrics, /strongbox_app_verification_overdue\{app="site"\} 0\n/);
  assert.match(metrics, /strongbox_drill_last_success\{app="site"\} 1\n/);
  assert.match(metrics, /strongbox_drills_total\{status="passed"\} 1\n/);
  assert.match(metrics, /strongbox_drill_recovery_seconds\{app="site"\} [\d.]+\n/);

  // Nine days after the snapshot, without a newer verified one: overdue, said once.
  clock.set('2026-06-15T12:00:00Z');
  await core.checkVerification();
  await core.notifier.idle();
  await until('the webhook hears of it', () => posts.some((p) => p.event === 'unverified'));
  const said = posts.filter((p) => p.event === 'unverified');
  assert.equal(said.length, 1);
  assert.equal(said[0]!.app, 'site');
  assert.match(said[0]!.summary, /site: the newest verified snapshot is 9 days old, beyond the objective of 8 days \(schedule site-drill\)/);
  metrics = await renderMetrics(core);
  assert.match(metrics, /strongbox_app_verification_overdue\{app="site"\} 1\n/);
  await core.checkVerification();
  await core.notifier.idle();
  assert.equal(posts.filter((p) => p.event === 'unverified').length, 1, 'said once, not at every check');

  // A new snapshot, drilled at the next Sunday: verified again (and said so).
  const s2 = await snapshot();
  clock.set('2026-06-21T03:00:00Z');
  await core.scheduler.tick();
  const second = (await inst.jobs.list({ kind: 'drill', limit: 5 })).find((j) => j.id !== fired.id)!;
  assert.equal((await waitJob(second.id)).phase, 'completed');
  await until('verified again is said', () => posts.some((p) => p.event === 'recovery' && p.app === 'site'));
  [v] = await verificationStatus(core.env);
  assert.equal(v!.verified?.snapshot, s2);
  assert.equal(v!.overdue, false);

  // Retention keeps the newest verified snapshot even where keep-last 1 would drop it.
  clock.set('2026-06-22T12:00:00Z');
  const s3 = await snapshot();
  const forgot = await forgetSnapshots(core.env, { where: { destination: null }, policy: { keepLast: 1 }, dryRun: false }, admin);
  assert.deepEqual(forgot.removed, [s1]);
  const decisions = forgot.groups.flatMap((g) => g.decisions);
  assert.deepEqual(decisions.find((d) => d.id === s2)?.reasons, ['newest verified']);
  assert.ok(decisions.find((d) => d.id === s3)?.keep);
});

test('a failed drill is notified as a failure of the drill', async () => {
  const before = posts.length;
  // The repository's packs are gone: the drill of the latest snapshot fails.
  const { readdirSync } = await import('node:fs');
  const packs = join(root, 'repo', 'data');
  for (const d of readdirSync(packs)) rmSync(join(packs, d), { recursive: true, force: true });
  const j = await core.submit('drill', { where: { destination: null }, apps: ['site'] }, admin);
  const r = await waitJob(j.id);
  assert.equal(r.phase, 'failed');
  await core.notifier.idle();
  await until('the failure is posted', () => posts.slice(before).some((p) => p.event === 'failure'));
  assert.match(posts.slice(before).find((p) => p.event === 'failure')!.summary, /^restore drill of site failed: site\/www: /);
  const [v] = await verificationStatus(core.env);
  assert.equal(v!.lastDrill?.status, 'failed');
  assert.match(await renderMetrics(core), /strongbox_drill_last_success\{app="site"\} 0\n/);
});

test('verification status is a pure function of drills, schedules and the time', () => {
  const sched = { id: 'x', name: 'd', kind: 'drill' as const, app: null, destination: null, cron: '0 3 * * 0', timezone: 'UTC', paused: false, retention: {}, tags: [], createdAt: '2026-01-01T00:00:00Z', updatedAt: '', lastRunAt: null, lastJobId: null, lastOutcome: null, skipped: 0 };
  const drill = (id: string, snapshotTime: string, status: 'passed' | 'failed', apps = ['a']) => ({ id, snapshot: `s${id}`, snapshotTime, apps, status, finishedAt: snapshotTime.replace('T00', 'T01'), recoveryMs: 1000, repository: '/r' });
  const now = new Date('2026-03-10T00:00:00Z');
  const cases: { name: string; drills: ReturnType<typeof drill>[]; schedules: (typeof sched)[]; want: { verified: string | null; overdue: boolean; objective: number | null } }[] = [
    { name: 'no drill, no schedule', drills: [], schedules: [], want: { verified: null, overdue: false, objective: null } },
    { name: 'no drill, a schedule older than its objective (twice a week)', drills: [], schedules: [sched], want: { verified: null, overdue: true, objective: 14 * 86400 } },
    { name: 'a passed drill within the objective', drills: [drill('1', '2026-03-05T00:00:00Z', 'passed')], schedules: [sched], want: { verified: 's1', overdue: false, objective: 14 * 86400 } },
    { name: 'the newest verified data counts, not the newest drill', drills: [drill('1', '2026-02-01T00:00:00Z', 'passed'), drill('2', '2026-03-09T00:00:00Z', 'failed')], schedules: [sched], want: { verified: 's1', overdue: true, objective: 14 * 86400 } },
    { name: 'an explicit objective', drills: [drill('1', '2026-03-05T00:00:00Z', 'passed')], schedules: [{ ...sched, objective: '3d' } as typeof sched], want: { verified: 's1', overdue: true, objective: 3 * 86400 } },
    { name: 'a paused schedule sets no objective', drills: [], schedules: [{ ...sched, paused: true }], want: { verified: null, overdue: false, objective: null } },
    { name: 'a schedule of another application', drills: [], schedules: [{ ...sched, app: 'b' } as unknown as typeof sched], want: { verified: null, overdue: false, objective: null } },
    { name: 'a drill of other applications', drills: [drill('1', '2026-03-05T00:00:00Z', 'passed', ['b'])], schedules: [], want: { verified: null, overdue: false, objective: null } },
  ];
  for (const c of cases) {
    const [v] = verificationOf(['a'], c.drills, c.schedules, now);
    assert.deepEqual({ verified: v!.verified?.snapshot ?? null, overdue: v!.overdue, objective: v!.objectiveSeconds }, c.want, c.name);
  }
  assert.deepEqual(verificationChanges([{ app: 'a', overdue: true }, { app: 'b', overdue: false }, { app: 'c', overdue: false }], ['b', 'gone']), { overdue: ['a'], recovered: ['b'], state: ['a'] });
});
