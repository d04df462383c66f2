import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { AppError } from '../kernel/index.js';
import { JobRunner, type JobContext, type JobEvent } from './runner.js';
import { MemoryJobStore } from './testing/memory-store.js';

/** A job body that runs until released (or aborted), recording that it started. */
function gate() {
  let release!: () => void;
  const done = new Promise<void>((r) => (release = r));
  const started: string[] = [];
  const work = (name: string) => async (ctx: JobContext) => {
    started.push(name);
    await Promise.race([done, new Promise((_r, rej) => ctx.signal.addEventListener('abort', () => rej(new AppError('CANCELLED', 'Cancelled.'))))]);
    return { phase: 'completed' as const, result: { name } };
  };
  return { work, started, release };
}

async function until(cond: () => boolean, ms = 2000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error('timed out');
    await sleep(5);
  }
}

test('runner: one job at a time per application, others run beside it, order kept', async () => {
  const store = new MemoryJobStore();
  const r = new JobRunner(store, { concurrency: 3 });
  const g = gate();
  const a1 = await r.submit({ kind: 'backup', app: 'a', requestedBy: 't', exclusive: ['a'] }, g.work('a1'));
  const a2 = await r.submit({ kind: 'backup', app: 'a', requestedBy: 't', exclusive: ['a'] }, g.work('a2'));
  await r.submit({ kind: 'backup', app: 'b', requestedBy: 't', exclusive: ['b'] }, g.work('b1'));
  await until(() => g.started.length === 2);
  assert.deepEqual(g.started.sort(), ['a1', 'b1']);
  assert.equal(r.live(a2.id)?.phase, 'queued');
  assert.equal(r.busy('a')?.id, a1.id);
  g.release();
  await until(() => store.jobs.get(a2.id)?.phase === 'completed');
  assert.deepEqual(g.started, ['a1', 'b1', 'a2']);
});

test('runner: "*" (full snapshot, prune) waits for everything and everything waits for it', async () => {
  const store = new MemoryJobStore();
  const r = new JobRunner(store, { concurrency: 4 });
  const g = gate();
  await r.submit({ kind: 'backup', app: 'a', requestedBy: 't', exclusive: ['a'] }, g.work('a'));
  await r.submit({ kind: 'backup', requestedBy: 't', exclusive: ['*'] }, g.work('full'));
  await r.submit({ kind: 'backup', app: 'b', requestedBy: 't', exclusive: ['b'] }, g.work('b'));
  await sleep(30);
  assert.deepEqual(g.started, ['a'], 'b queued behind the full snapshot, which waits for a');
  g.release();
  await until(() => g.started.length === 3);
  assert.deepEqual(g.started, ['a', 'full', 'b']);
});

test('runner: the global limit holds', async () => {
  const store = new MemoryJobStore();
  const r = new JobRunner(store, { concurrency: 2 });
  const g = gate();
  for (const n of ['x', 'y', 'z']) await r.submit({ kind: 'check', requestedBy: 't', exclusive: [n] }, g.work(n));
  await sleep(30);
  assert.equal(g.started.length, 2);
  g.release();
  await until(() => g.started.length === 3);
});

test('runner: cancel a queued job at once and a running one through its signal', async () => {
  const store = new MemoryJobStore();
  const r = new JobRunner(store, { concurrency: 1 });
  const g = gate();
  const running = await r.submit({ kind: 'backup', app: 'a', requestedBy: 't', exclusive: ['a'] }, g.work('run'));
  const queued = await r.submit({ kind: 'backup', app: 'a', requestedBy: 't', exclusive: ['a'] }, g.work('queued'));
  const q = await r.cancel(queued.id, 'alice');
  assert.equal(q?.phase, 'canceled');
  await until(() => g.started.length === 1);
  await r.cancel(running.id, 'alice');
  await until(() => store.jobs.get(running.id)?.phase === 'canceled');
  assert.deepEqual(g.started, ['run'], 'the canceled queued job never started');
  const log = (await store.log(running.id)).map((l) => l.line);
  assert.ok(log.includes('cancel requested by alice'), log.join('\n'));
});

test('runner: a throw fails the job with its reason; outcomes are data', async () => {
  const store = new MemoryJobStore();
  const r = new JobRunner(store);
  const finished: string[] = [];
  r.onFinished((j) => finished.push(`${j.id}:${j.phase}`));
  const bad = await r.submit({ kind: 'backup', requestedBy: 't' }, async () => {
    throw new AppError('STORAGE_UNAVAILABLE', 'the bucket is gone');
  });
  const partial = await r.submit({ kind: 'backup', requestedBy: 't' }, async () => ({ phase: 'partially_failed', errors: ['db: connection refused'] }));
  await until(() => finished.length === 2);
  assert.equal(store.jobs.get(bad.id)?.phase, 'failed');
  assert.deepEqual(store.jobs.get(bad.id)?.errors, ['the bucket is gone']);
  assert.equal(store.jobs.get(partial.id)?.phase, 'partially_failed');
});

test('runner: progress per component and log lines reach subscribers and the store', async () => {
  const store = new MemoryJobStore();
  const r = new JobRunner(store);
  const events: JobEvent[] = [];
  r.subscribeAll((e) => events.push(e));
  const j = await r.submit({ kind: 'backup', app: 'a', requestedBy: 't', components: [{ app: 'a', component: 'db', kind: 'postgres' }, { app: 'a', component: 'files', kind: 'files' }] }, async (ctx) => {
    ctx.sink.emit({ type: 'component', app: 'a', component: 'db', kind: 'postgres', state: 'running' });
    ctx.sink.emit({ type: 'progress', counters: { files: 1, dirs: 0, bytes: 1000, newBytes: 10 } });
    ctx.sink.emit({ type: 'component', app: 'a', component: 'db', kind: 'postgres', state: 'completed', bytes: 1000, items: 1 });
    ctx.sink.emit({ type: 'log', time: new Date().toISOString(), line: 'a/db: done' });
    return { phase: 'completed' };
  });
  await until(() => store.jobs.get(j.id)?.phase === 'completed');
  const final = store.jobs.get(j.id)!;
  assert.deepEqual(final.progress.components.map((c) => [c.component, c.state, c.bytes]), [['db', 'completed', 1000], ['files', 'skipped', 0]]);
  assert.ok(events.some((e) => e.type === 'log' && e.line === 'a/db: done'));
  assert.ok(events.some((e) => e.type === 'progress'));
  assert.deepEqual((await store.log(j.id)).map((l) => l.seq), [1, 2]);
});

test('runner: recover() fails what a previous process left running or queued', async () => {
  const store = new MemoryJobStore();
  const old = new JobRunner(store);
  const g = gate();
  const running = await old.submit({ kind: 'backup', app: 'a', requestedBy: 't', exclusive: ['a'] }, g.work('r'));
  const queued = await old.submit({ kind: 'backup', app: 'a', requestedBy: 't', exclusive: ['a'] }, g.work('q'));
  await until(() => store.jobs.get(running.id)?.phase === 'running');
  // A new process over the same store (the old one "died"):
  const fresh = new JobRunner(store);
  const left = await fresh.recover();
  assert.deepEqual(left.map((j) => j.id).sort(), [running.id, queued.id].sort());
  assert.equal(store.jobs.get(running.id)?.phase, 'failed');
  assert.match(store.jobs.get(running.id)!.errors[0]!, /interrupted: the server stopped while this job was running/);
  assert.match(store.jobs.get(queued.id)!.errors[0]!, /before this job started/);
  g.release();
});
