import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { test } from 'node:test';
import { Cli, tmp } from './testing/cli.js';
import { Api, ADMIN_PASSWORD, prepareInstance, startServe } from './testing/server.js';

test('pins live in the repository: every instance and the CLI honour them — delete and forget refuse a pinned snapshot until an admin unpins it', async () => {
  const root = tmp('sb-pins-');
  const src = path.join(root, 'src');
  await fs.mkdir(src);
  const a = new Cli(path.join(root, 'repo'));
  a.init();
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) {
    writeFileSync(path.join(src, 'f.txt'), `version ${i}`);
    ids.push(a.json<{ id: string }>(['snapshot', 'create', '--path', src]).id);
  }
  a.ok(['snapshot', 'pin', ids[0]!, '--reason', 'audit 2026']);
  // Another machine with the same repository (its own cache, no shared catalog).
  const b = new Cli(a.repo);
  const del = b.run(['snapshot', 'delete', ids[0]!], { STRONGBOX_CACHE_DIR: tmp('sb-pins-cache-') });
  assert.equal(del.code, 1, del.stderr);
  assert.match(del.stderr, /is pinned \(by local:.*\); an admin must unpin it first/);
  const forget = b.json<{ removed: string[] }>(['snapshot', 'forget', '--keep-last', '1']);
  assert.deepEqual(forget.removed.sort(), [ids[1]!].sort(), 'the pinned snapshot is kept, the unpinned older one goes');
  assert.deepEqual(b.json<{ id: string }[]>(['snapshot', 'list']).map((s) => s.id).sort(), [ids[0]!, ids[2]!].sort());
  b.ok(['snapshot', 'unpin', ids[0]!]);
  assert.equal(b.run(['snapshot', 'unpin', ids[0]!]).code, 1, 'unpinning twice says it is not pinned');
  b.ok(['snapshot', 'delete', ids[0]!]);
  assert.match(a.ok(['repo', 'check']), /no errors were found/);
});

test("a schedule's retention forgets only that schedule's own snapshots; pins made through the server are in the repository and every removal is audited", async () => {
  const root = tmp('sb-pins-srv-');
  const data = path.join(root, 'data');
  await fs.mkdir(data);
  writeFileSync(path.join(data, 'x.txt'), 'x');
  const local = await prepareInstance(root, { docs: `apiVersion: strongbox/v1\nkind: Application\nmetadata: { name: docs, version: "1" }\nspec:\n  components:\n    - name: files\n      files: { path: ${data} }\n` });
  const srv = await startServe(root);
  try {
    const admin = new Api(srv.url);
    await admin.login('admin', ADMIN_PASSWORD);
    const manual = (await admin.waitJob((await admin.ok('POST', '/api/snapshots', { apps: ['docs'] })).id)).result.snapshot as string;
    await admin.ok('POST', '/api/schedules', { name: 'keep1', app: 'docs', cron: 'daily', retention: { keepLast: 1 } });
    await admin.ok('POST', '/api/schedules', { name: 'other', app: 'docs', cron: 'weekly' });
    const other = (await admin.waitJob((await admin.ok('POST', '/api/schedules/other/run')).id)).result.snapshot as string;
    const runs: string[] = [];
    for (let i = 0; i < 3; i++) runs.push((await admin.waitJob((await admin.ok('POST', '/api/schedules/keep1/run')).id)).result.snapshot as string);
    const left = ((await admin.ok('GET', '/api/snapshots')) as { id: string }[]).map((s) => s.id).sort();
    assert.deepEqual(left, [manual, other, runs[2]!].sort(), 'the manual snapshot and the other schedule\'s survive keep-last 1');
    const audit = (await admin.ok('GET', '/api/audit?action=snapshot.forget')) as { target: string; actor: string }[];
    assert.deepEqual(audit.filter((e) => e.actor === 'schedule keep1').map((e) => e.target).sort(), [runs[0]!, runs[1]!].sort());
    // A pin made through the server is in the repository: the local CLI (another process, same destination) refuses to delete it.
    await admin.ok('POST', `/api/snapshots/${manual}/pin`, { reason: 'before the migration' });
    const del = local.run(['snapshot', 'delete', manual]);
    assert.equal(del.code, 1, del.stderr);
    assert.match(del.stderr, /is pinned \(by admin/);
    assert.equal((await admin.call('DELETE', `/api/snapshots/${manual}`)).status, 409);
    await admin.ok('DELETE', `/api/snapshots/${manual}/pin`);
    assert.equal((await admin.call('DELETE', `/api/snapshots/${manual}`)).status, 200);
    // The same use-cases on the server's machine land in the same audit log.
    await local.okAsync(['snapshot', 'pin', runs[2]!, '--reason', 'local pin']);
    await local.okAsync(['snapshot', 'unpin', runs[2]!]);
    await local.okAsync(['snapshot', 'delete', other]);
    const localAudit = (await admin.ok('GET', '/api/audit?action=snapshot.')) as { action: string; target: string; actor: string }[];
    for (const [action, target] of [['snapshot.pin', runs[2]!], ['snapshot.unpin', runs[2]!], ['snapshot.delete', other]] as const) {
      assert.ok(localAudit.some((e) => e.action === action && e.target === target && e.actor.startsWith('local:')), `${action} ${target}: ${JSON.stringify(localAudit)}`);
    }
  } finally {
    await srv.stop();
  }
});
