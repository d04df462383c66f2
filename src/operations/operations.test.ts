import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ManualClock, type ProgressSink } from '../kernel/index.js';
import { openInstance, type Instance } from '../app/index.js';
import { generateVendorKeys } from '../spec/index.js';
import { backupPaths, CommandRepositories, createRepository, createSnapshot, jobOperations, perform, prepare, restoreSnapshot, type Caller, type Env, type Where } from './index.js';

// Every prepare, as a table: what it refuses (and with which code) before a job exists, and the job it describes.

const root = mkdtempSync(join(tmpdir(), 'sb-ops-'));
const admin: Caller = { actor: 'alice', role: 'admin', ip: null };
const operator: Caller = { actor: 'olga', role: 'operator', ip: '10.0.0.9' };
const quiet: ProgressSink = { emit: () => undefined };
let inst: Instance;
let env: Env;
let where: Where;
let fileSnapshot: string;
let fullSnapshot: string;

const spec = (name: string, extra = '') => `apiVersion: strongbox/v1\nkind: Application\nmetadata: { name: ${name}, version: 1.0.0 }\nspec:\n${extra}  components:\n    - name: www\n      files: { path: ${join(root, 'data')} }\n`;

before(async () => {
  mkdirSync(join(root, 'data'));
  writeFileSync(join(root, 'data', 'a.txt'), 'hello');
  inst = await openInstance(join(root, 'home'));
  await inst.applications.put('site', '1.0.0', spec('site'), false);
  const repo = { location: join(root, 'repo'), password: 'pw-for-tests' };
  await createRepository(repo, {});
  env = { inst, clock: new ManualClock(new Date('2026-06-01T00:00:00Z')), repos: new CommandRepositories() };
  where = { target: { name: null, ...repo } };
  fileSnapshot = (await backupPaths(env, { where, paths: [join(root, 'data')], excludes: [], tags: [] }, {})).id;
  fullSnapshot = (await perform(createSnapshot, env, { full: true, apps: [], where, tags: [] }, admin, { sink: quiet })).id;
  await inst.applications.put('paid', '1.0.0', spec('paid', `  license: { publicKey: "${generateVendorKeys().publicKey}" }\n`), false);
});

after(async () => {
  await env.repos.close();
  await inst.close();
  rmSync(root, { recursive: true, force: true });
});

const refusals: { name: string; run: () => Promise<unknown>; code: string }[] = [
  { name: 'snapshot: nothing named', run: () => createSnapshot.prepare(env, { where, tags: [] }, admin), code: 'USAGE' },
  { name: 'snapshot: an unknown application', run: () => createSnapshot.prepare(env, { apps: ['nope'], where }, admin), code: 'NOT_FOUND' },
  { name: 'snapshot: a licensed application without its license', run: () => createSnapshot.prepare(env, { apps: ['paid'], where }, admin), code: 'LICENSE_REQUIRED' },
  { name: 'snapshot: a full one needs every license too', run: () => createSnapshot.prepare(env, { full: true, where }, admin), code: 'LICENSE_REQUIRED' },
  { name: 'snapshot: an unknown destination', run: () => createSnapshot.prepare(env, { apps: ['site'], where: { destination: 'nowhere' } }, admin), code: 'NOT_FOUND' },
  { name: 'restore: an unknown snapshot', run: () => restoreSnapshot.prepare(env, { snapshot: 'ffff', where }, admin), code: 'NOT_FOUND' },
  { name: 'restore: not an id', run: () => restoreSnapshot.prepare(env, { snapshot: '../x', where }, admin), code: 'INVALID_ARGUMENT' },
  { name: 'restore: a snapshot of paths', run: () => restoreSnapshot.prepare(env, { snapshot: fileSnapshot, where }, admin), code: 'USAGE' },
  { name: 'restore: an operator passing a spec', run: () => restoreSnapshot.prepare(env, { snapshot: fullSnapshot, where, specs: [spec('site')] }, operator), code: 'FORBIDDEN' },
  { name: 'restore: an operator restoring a whole full snapshot', run: () => restoreSnapshot.prepare(env, { snapshot: fullSnapshot, where }, operator), code: 'FORBIDDEN' },
  { name: 'copy: into the repository it comes from', run: () => jobOperations.copy.prepare(env, { snapshots: [fileSnapshot], from: where, to: where }, admin), code: 'INVALID_ARGUMENT' },
  { name: 'upload: a file that is not there', run: () => jobOperations.upload.prepare(env, { file: join(root, 'missing.sbx'), password: 'x', where }, admin), code: 'NOT_FOUND' },
];

for (const r of refusals) {
  test(`prepare refuses — ${r.name} (${r.code})`, async () => {
    await assert.rejects(r.run(), (err: { code?: string }) => err.code === r.code);
  });
}

test('prepare describes the job: kind, exclusivity, components, and no secret in its params', async () => {
  const snap = createSnapshot.job(await createSnapshot.prepare(env, { apps: ['site'], where, tags: ['t'] }, admin));
  assert.equal(snap.kind, 'backup');
  assert.deepEqual(snap.exclusive, ['site']);
  assert.deepEqual(snap.components, [{ app: 'site', component: 'www', kind: 'files' }]);
  assert.ok(!JSON.stringify(snap.params).includes('pw-for-tests'));

  const dry = restoreSnapshot.job(await restoreSnapshot.prepare(env, { snapshot: fullSnapshot.slice(0, 8), where, dryRun: true }, operator));
  assert.equal(dry.kind, 'restore-dry-run', 'a dry run is never counted as a restore');
  assert.deepEqual(dry.exclusive, ['*'], 'a whole full snapshot excludes everything else');
  assert.equal(dry.params?.snapshot, fullSnapshot, 'the prefix is resolved before the job exists');

  const download = jobOperations.download.job(await jobOperations.download.prepare(env, { snapshot: 'latest', where, password: 'archive-secret', output: { file: join(root, 'x.sbx') } }, admin));
  assert.ok(!JSON.stringify(download.params).includes('archive-secret'));

  const prune = jobOperations.prune.job(await jobOperations.prune.prepare(env, { where, readDataPercent: 5, prune: true }, admin));
  assert.equal(prune.kind, 'prune');
  assert.deepEqual(prune.exclusive, ['*']);
});

test('a refused request is in the audit log with its reason; a started one with its actor', async () => {
  await assert.rejects(prepare(createSnapshot, env, { apps: ['nope'], where }, operator));
  await perform(createSnapshot, env, { apps: ['site'], where, tags: [] }, operator, { sink: quiet });
  const entries = await inst.audit.list({ limit: 50 } as never);
  assert.ok(entries.some((e) => e.action === 'snapshot.create' && e.actor === 'olga' && e.outcome === 'refused' && String(e.details?.message).includes('nope')));
  assert.ok(entries.some((e) => e.action === 'snapshot.create' && e.actor === 'olga' && e.outcome === 'ok' && e.ip === '10.0.0.9'));
});

test('the job-kind table maps every kind to its operation', () => {
  assert.equal(jobOperations.restore, jobOperations['restore-dry-run']);
  assert.equal(jobOperations.check, jobOperations.prune);
  assert.equal(jobOperations.backup, createSnapshot);
});
