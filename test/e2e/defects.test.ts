// Defects that the duplicated use-cases caused (issue "one home for every use-case"), each pinned
// locally and through a server.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { test } from 'node:test';
import { instanceCli, tmp } from './testing/cli.js';
import { Api, ADMIN_PASSWORD, prepareInstance, startServe } from './testing/server.js';

const spec = (name: string, data: string, hooks = '') => `apiVersion: strongbox/v1\nkind: Application\nmetadata: { name: ${name}, version: "1" }\nspec:\n${hooks}  components:\n    - name: files\n      files: { path: ${data} }\n`;

test('a preRestore hook failure that restored nothing is a failed restore (exit 1), not a partial one', async () => {
  const root = tmp('sb-defect-hook-');
  const data = path.join(root, 'data');
  await fs.mkdir(data);
  writeFileSync(path.join(data, 'a'), 'a');
  const cli = instanceCli(root, 'pw-defects');
  cli.ok(['destination', 'add', 'main', path.join(root, 'repo'), '--init']);
  writeFileSync(path.join(root, 'app.yaml'), spec('hk', data, '  hooks:\n    preRestore: [{ name: stop, exec: ["false"], onError: fail }]\n'));
  cli.ok(['app', 'add', '-f', path.join(root, 'app.yaml')]);
  cli.ok(['snapshot', 'create', '--app', 'hk']);
  const r = cli.run(['snapshot', 'restore', 'latest', '--map', `files.path=${path.join(root, 'out')}`]);
  assert.equal(r.code, 1, r.stderr + r.stdout);
  assert.match(r.stderr, /The restore failed: hk\/files: preRestore hook "stop" exited with status 1; not restored/);
});

test('user add --password-file sets that password; app remove refuses while schedules snapshot it; a failed dry run is neither a failed restore in metrics nor the cause of a "recovery" notification', async () => {
  const root = tmp('sb-defect-srv-');
  const data = path.join(root, 'data');
  await fs.mkdir(data);
  writeFileSync(path.join(data, 'a'), 'a');
  const local = await prepareInstance(root, { docs: spec('docs', data) });
  const pwFile = path.join(root, 'pw');
  writeFileSync(pwFile, 'bobs-password-123\n');
  const events: string[] = [];
  const hook = createServer((req: IncomingMessage, res) => {
    let raw = '';
    req.on('data', (d: Buffer) => (raw += d.toString()));
    req.on('end', () => {
      events.push((JSON.parse(raw) as { event: string; job: { kind: string } }).event);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
  const srv = await startServe(root);
  try {
    // On the server's machine (the catalog is shared with the running server).
    await local.okAsync(['user', 'add', 'bob', '--role', 'viewer', '--password-file', pwFile, '--no-must-change']);
    // A viewer added before the server's first start does not stop the admin account from being made.
    const early = tmp('sb-defect-early-');
    await prepareInstance(early);
    await instanceCli(early).okAsync(['user', 'add', 'vic', '--role', 'viewer', '--password-file', pwFile, '--no-must-change']);
    const earlySrv = await startServe(early);
    try {
      assert.equal((await new Api(earlySrv.url).login('admin', ADMIN_PASSWORD)).status, 200);
    } finally {
      await earlySrv.stop();
    }
    const bob = new Api(srv.url);
    assert.equal((await bob.login('bob', 'bobs-password-123')).status, 200, 'the password from the file works');

    const admin = new Api(srv.url);
    await admin.login('admin', ADMIN_PASSWORD);
    await admin.ok('PUT', '/api/settings/notifications', { webhooks: [{ url: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/h`, secret: 's3cret-hook', events: ['failure', 'partial', 'recovery', 'success'] }] });
    await admin.waitJob((await admin.ok('POST', '/api/snapshots', { apps: ['docs'] })).id);
    // A dry run into the non-empty original fails its preflight ...
    const dry = await admin.waitJob((await admin.ok('POST', '/api/snapshots/latest/restore', { dryRun: true })).id);
    assert.equal(dry.phase, 'failed');
    assert.equal(dry.kind, 'restore-dry-run');
    // ... then a real restore succeeds: that is a success, not a recovery from a failed restore.
    const real = await admin.waitJob((await admin.ok('POST', '/api/snapshots/latest/restore', { maps: [{ component: 'files', field: 'path', value: path.join(root, 'restored') }] })).id);
    assert.equal(real.phase, 'completed', JSON.stringify(real.errors));
    const t0 = Date.now();
    while (events.length < 2 && Date.now() - t0 < 10_000) await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(events, ['success', 'success'], 'the backup and the restore; nothing for the dry run, no "recovery"');
    const metrics = (await admin.call<string>('GET', '/metrics')).body;
    assert.doesNotMatch(metrics, /strongbox_jobs_total\{kind="restore",phase="failed"\}/);
    assert.match(metrics, /strongbox_jobs_total\{kind="restore-dry-run",phase="failed"\} 1/);

    // app remove while a schedule snapshots it: refused, nothing changed; with withSchedules both go, audited.
    await admin.ok('POST', '/api/schedules', { name: 'docs-daily', app: 'docs', cron: 'daily' });
    const refused = await admin.call('DELETE', '/api/applications/docs');
    assert.equal(refused.status, 409);
    assert.match(JSON.stringify(refused.body), /snapshotted by schedule\(s\) docs-daily/);
    const cliRefused = await local.runAsync(['app', 'remove', 'docs']);
    assert.equal(cliRefused.code, 1);
    assert.match(cliRefused.stderr, /--with-schedules/);
    assert.equal(((await admin.ok('GET', '/api/schedules')) as unknown[]).length, 1);
    const removed = await admin.ok('DELETE', '/api/applications/docs?withSchedules=true');
    assert.deepEqual(removed, { removed: 'docs', schedulesRemoved: ['docs-daily'] });
    assert.deepEqual(await admin.ok('GET', '/api/schedules'), []);
    const audit = (await admin.ok('GET', '/api/audit?action=schedule.remove')) as { target: string }[];
    assert.ok(audit.some((e) => e.target === 'docs-daily'));
  } finally {
    await srv.stop();
    hook.close();
  }
});
