import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import * as path from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { instanceCli, tmp } from './testing/cli.js';
import { Api, ADMIN_PASSWORD, prepareInstance, startServe } from './testing/server.js';

/** An application of one directory, and one whose component streams slowly (for cancels and crashes). */
function specs(root: string) {
  const data = path.join(root, 'data');
  mkdirSync(data, { recursive: true });
  writeFileSync(path.join(data, 'a.txt'), 'alpha\n');
  writeFileSync(path.join(data, 'b.txt'), 'bravo\n'.repeat(1000));
  const marker = path.join(root, 'thawed');
  return {
    docs: `apiVersion: strongbox/v1\nkind: Application\nmetadata: { name: docs, version: "1.0" }\nspec:\n  components:\n    - name: files\n      files: { path: ${data} }\n`,
    slow: `apiVersion: strongbox/v1\nkind: Application\nmetadata: { name: slow, version: "1.0" }\nspec:\n  components:\n    - name: stream\n      command:\n        backup: ["sh", "-c", "for i in $(seq 1 300); do head -c 65536 /dev/urandom; sleep 0.1; done"]\n        restore: ["sh", "-c", "cat > /dev/null"]\n  hooks:\n    postBackup:\n      - { name: thaw, exec: ["sh", "-c", "date > ${marker}"] }\n`,
  };
}

test('server: first start, sign-in, roles, CSRF, tokens, rate limit and the audit log', async () => {
  const root = tmp();
  await prepareInstance(root, { docs: specs(root).docs });
  const srv = await startServe(root, { adminPassword: null, env: { STRONGBOX_LOGIN_ATTEMPTS: '5' } });
  try {
    // First start: a one-time password, said once, that must be changed before anything else.
    const m = /one-time password\s+(\S+)/.exec(srv.err());
    assert.ok(m, srv.err());
    const admin = new Api(srv.url);
    const first = await admin.login('admin', m[1]!);
    assert.equal(first.status, 200);
    assert.equal(first.body.mustChangePassword, true);
    assert.equal((await admin.call('GET', '/api/snapshots')).status, 403, 'nothing but a password change before it is changed');
    assert.equal((await admin.call('POST', '/api/auth/password', { current: m[1], new: ADMIN_PASSWORD })).status, 200);
    const again = await admin.login('admin', ADMIN_PASSWORD);
    assert.equal(again.body.mustChangePassword, false);

    // Users of each role, and a token each.
    await admin.ok('POST', '/api/users', { name: 'olivia', role: 'operator', password: 'operator-password', mustChangePassword: false });
    await admin.ok('POST', '/api/users', { name: 'victor', role: 'viewer', password: 'viewer-password', mustChangePassword: false });
    const tokens: Record<string, string> = {};
    for (const [user, pw] of [['olivia', 'operator-password'], ['victor', 'viewer-password'], ['admin', ADMIN_PASSWORD]] as const) {
      const s = new Api(srv.url);
      await s.login(user, pw);
      tokens[user] = (await s.ok('POST', '/api/tokens', { name: `${user}-script` })).token;
    }
    // A viewer cannot mint an operator token.
    const v = new Api(srv.url);
    await v.login('victor', 'viewer-password');
    assert.equal((await v.call('POST', '/api/tokens', { name: 'x', role: 'admin' })).status, 403);

    // Each role against each class of endpoint: read, operate, administer.
    const anon = new Api(srv.url);
    const as = (u: string) => new Api(srv.url, tokens[u]);
    const classes: { name: string; call: (a: Api) => Promise<number>; allowed: string[] }[] = [
      { name: 'read snapshots', call: async (a) => (await a.call('GET', '/api/snapshots')).status, allowed: ['victor', 'olivia', 'admin'] },
      { name: 'read jobs', call: async (a) => (await a.call('GET', '/api/jobs')).status, allowed: ['victor', 'olivia', 'admin'] },
      { name: 'create a snapshot', call: async (a) => (await a.call('POST', '/api/snapshots', { apps: ['docs'] })).status, allowed: ['olivia', 'admin'] },
      { name: 'add a schedule', call: async (a) => (await a.call('POST', '/api/schedules', { name: `s-${Math.random().toString(36).slice(2, 8)}`, app: 'docs', cron: 'daily' })).status, allowed: ['olivia', 'admin'] },
      { name: 'list users', call: async (a) => (await a.call('GET', '/api/users')).status, allowed: ['admin'] },
      { name: 'read the audit log', call: async (a) => (await a.call('GET', '/api/audit')).status, allowed: ['admin'] },
      { name: 'add a destination', call: async (a) => (await a.call('POST', '/api/destinations', { name: 'nope', location: '/nonexistent/x', password: 'pw-123456', skipValidation: true })).status, allowed: ['admin'] },
      { name: 'restore (not a dry run)', call: async (a) => (await a.call('POST', '/api/snapshots/latest/restore', { dryRun: false })).status, allowed: ['admin'] },
      { name: 'download an archive', call: async (a) => (await a.call('POST', '/api/snapshots/latest/download', { password: 'archive-pass' })).status, allowed: ['admin'] },
      { name: 'change notification settings', call: async (a) => (await a.call('PUT', '/api/settings/notifications', { webhooks: [] })).status, allowed: ['admin'] },
    ];
    for (const c of classes) {
      assert.equal(await c.call(anon), 401, `${c.name}: anonymous`);
      for (const u of ['victor', 'olivia', 'admin']) {
        const status = await c.call(as(u));
        if (c.allowed.includes(u)) assert.ok(status < 400 || (status !== 401 && status !== 403), `${c.name}: ${u} should be allowed, got ${status}`);
        else assert.equal(status, 403, `${c.name}: ${u} should be refused`);
      }
    }

    // CSRF: the console's cookie alone does not change anything.
    const noCsrf = await admin.call('POST', '/api/users', { name: 'mallory', role: 'admin', password: 'mallory-password' }, { csrf: false });
    assert.equal(noCsrf.status, 403);
    assert.match(noCsrf.body.error.message, /CSRF/);
    assert.equal((await admin.call('POST', '/api/users', { name: 'mallory', role: 'admin', password: 'mallory-password' }, { csrf: false, headers: { 'x-csrf-token': 'guess' } })).status, 403);
    assert.equal((await admin.ok('GET', '/api/users')).some((u: { name: string }) => u.name === 'mallory'), false);

    // Revoked tokens stop working at once.
    const t = await new Api(srv.url, tokens.admin).ok('POST', '/api/tokens', { name: 'short-lived', role: 'viewer' });
    assert.equal((await new Api(srv.url, t.token).call('GET', '/api/jobs')).status, 200);
    await new Api(srv.url, tokens.admin).ok('DELETE', `/api/tokens/${t.id}`);
    const revoked = await new Api(srv.url, t.token).call('GET', '/api/jobs');
    assert.equal(revoked.status, 401);
    assert.equal(revoked.body.error.code, 'UNAUTHENTICATED');

    // Rate limiting: after 5 failures even the right password waits.
    const guesser = new Api(srv.url);
    for (let i = 0; i < 5; i++) assert.equal((await guesser.login('victor', `wrong-${i}`)).status, 401);
    const limited = await guesser.login('victor', 'viewer-password');
    assert.equal(limited.status, 429);
    assert.ok(Number(limited.headers.get('retry-after')) > 0);

    // Bad input: clear errors, nothing changed.
    const bad = await admin.call('POST', '/api/schedules', { name: 'Bad Name', cron: 'sometimes' });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, 'INVALID_ARGUMENT');
    assert.match(bad.body.error.message, /body\.name/);
    assert.equal((await admin.call('POST', '/api/schedules', { name: 'x1', app: 'docs', cron: 'every day' })).status, 400);
    assert.equal((await admin.call('GET', '/api/nowhere')).status, 404);

    // The audit log: who, what, from where, how it ended.
    const audit = await admin.ok('GET', '/api/audit?limit=500');
    const has = (action: string, outcome: string, actor?: string) => audit.some((e: { action: string; outcome: string; actor: string; ip: string }) => e.action === action && e.outcome === outcome && (!actor || e.actor === actor) && e.ip);
    assert.ok(has('auth.login', 'failed', 'victor'));
    assert.ok(has('auth.login', 'rate-limited', 'victor'));
    assert.ok(has('user.add', 'ok', 'admin'));
    assert.ok(has('token.revoke', 'ok'));
    assert.ok(has('snapshot.create', 'ok', 'olivia (token olivia-script)'));
    assert.ok(has('snapshot.restore', 'forbidden'));
  } finally {
    await srv.stop();
  }
  // No password or token in the server's log.
  const log = srv.out();
  for (const secret of [ADMIN_PASSWORD, 'operator-password', 'viewer-password', 'mallory-password']) assert.ok(!log.includes(secret), `the log holds ${secret}`);
  assert.ok(!/sbt_[0-9a-f]{12}_/.test(log), 'the log holds a token');
});

test('server: jobs stream progress over SSE, cancel stops a backup at a safe point and post hooks run', async () => {
  const root = tmp();
  const sp = specs(root);
  const local = await prepareInstance(root, sp);
  const srv = await startServe(root);
  try {
    const api = new Api(srv.url);
    await api.login('admin', ADMIN_PASSWORD);
    const job = await api.ok('POST', '/api/snapshots', { apps: ['slow'], tags: ['to-cancel'] });
    assert.equal(job.kind, 'backup');
    assert.deepEqual(job.progress.components.map((c: { component: string }) => c.component), ['stream']);
    // Follow the stream until bytes flow for the component, then cancel.
    const seen = await api.events(job.id, (e) => e.event === 'progress' && e.data.components[0]?.state === 'running' && e.data.components[0].bytes > 200000);
    const p = seen.findLast((e) => e.event === 'progress')!.data;
    assert.equal(p.current, 'slow/stream');
    assert.ok(p.components[0].rate > 0);
    assert.ok(seen.some((e) => e.event === 'log' && /slow\/stream: backing up command/.test(e.data.line)), JSON.stringify(seen.filter((e) => e.event === 'log')));
    const c = await api.ok('POST', `/api/jobs/${job.id}/cancel`);
    assert.equal(c.id, job.id);
    const t0 = Date.now();
    const done = await api.waitJob(job.id, 20000);
    assert.equal(done.phase, 'canceled');
    assert.ok(Date.now() - t0 < 10000, 'the cancel took effect promptly');
    assert.ok(existsSync(path.join(root, 'thawed')), 'the postBackup hook ran after the cancel');
    // The rest of the stream after the end, and a resumed stream (Last-Event-ID) only has what came after.
    const all = await api.events(job.id);
    assert.equal(all.at(-1)!.event, 'end');
    assert.ok(all.some((e) => e.event === 'log' && /cancel requested by admin/.test(e.data.line)));
    assert.equal((await api.call('POST', `/api/jobs/${job.id}/cancel`)).status, 409);
    // No snapshot was written and the repository is consistent.
    assert.equal((await api.ok('GET', '/api/snapshots')).length, 0);
    await local.okAsync(['repo', 'check']);
  } finally {
    await srv.stop();
  }
});

test('server: a server killed mid-job marks the job failed on restart, and the next run completes', async () => {
  const root = tmp();
  const local = await prepareInstance(root, specs(root));
  let srv = await startServe(root);
  let jobId: string;
  try {
    const api = new Api(srv.url);
    await api.login('admin', ADMIN_PASSWORD);
    jobId = (await api.ok('POST', '/api/snapshots', { apps: ['slow'] })).id;
    await api.events(jobId, (e) => e.event === 'progress' && e.data.bytes > 300000);
  } finally {
    await srv.kill();
  }
  srv = await startServe(root);
  try {
    const api = new Api(srv.url);
    await api.login('admin', ADMIN_PASSWORD);
    const j = await api.ok('GET', `/api/jobs/${jobId}`);
    assert.equal(j.phase, 'failed');
    assert.match(j.errors.join(' '), /interrupted: the server stopped while this job was running/);
    // The stale lock of the killed process does not block the next snapshot for long; it completes.
    await local.okAsync(['repo', 'unlock']);
    const next = await api.ok('POST', '/api/snapshots', { apps: ['docs'] });
    assert.equal((await api.waitJob(next.id)).phase, 'completed');
    await local.okAsync(['repo', 'check']);
  } finally {
    await srv.stop();
  }
});

test('server: SIGTERM cancels running jobs gracefully and exits 0', async () => {
  const root = tmp();
  await prepareInstance(root, specs(root));
  const srv = await startServe(root);
  const api = new Api(srv.url);
  await api.login('admin', ADMIN_PASSWORD);
  const job = await api.ok('POST', '/api/snapshots', { apps: ['slow'] });
  await api.events(job.id, (e) => e.event === 'progress' && e.data.bytes > 100000);
  const exit = await srv.stop();
  assert.equal(exit.code, 0, srv.err());
  assert.ok(existsSync(path.join(root, 'thawed')));
  const srv2 = await startServe(root);
  try {
    const api2 = new Api(srv2.url);
    await api2.login('admin', ADMIN_PASSWORD);
    assert.equal((await api2.ok('GET', `/api/jobs/${job.id}`)).phase, 'canceled');
  } finally {
    await srv2.stop();
  }
});

test('server: schedules fire on time, skip overlapping runs, apply retention (pins kept) and pause', async () => {
  const root = tmp();
  await prepareInstance(root, specs(root));
  const srv = await startServe(root);
  try {
    const api = new Api(srv.url);
    await api.login('admin', ADMIN_PASSWORD);
    const preview = await api.ok('POST', '/api/schedules/preview', { cron: 'daily', timezone: 'Europe/Paris' });
    assert.equal(preview.description, 'every day at 02:00 (Europe/Paris)');
    assert.equal(preview.nextRuns.length, 5);
    // A first snapshot, pinned: retention must never forget it.
    const pinnedJob = await api.ok('POST', '/api/snapshots', { apps: ['docs'] });
    const pinned = (await api.waitJob(pinnedJob.id)).result.snapshot;
    await api.ok('POST', `/api/snapshots/${pinned}/pin`);
    const s = await api.ok('POST', '/api/schedules', { name: 'docs-often', app: 'docs', cron: '*/2 * * * * *', retention: { keepLast: 2 } });
    assert.equal(s.nextRuns.length, 5);
    assert.equal(s.description, 'every 2 seconds');
    // Wait for four scheduled runs.
    const t0 = Date.now();
    let runs: { phase: string; scheduleId: string; result: { retention?: { removed: string[] } } }[] = [];
    while (Date.now() - t0 < 30000) {
      runs = (await api.ok('GET', '/api/jobs?kind=backup&limit=50')).filter((j: { scheduleId: string; phase: string }) => j.scheduleId === s.id && j.phase === 'completed');
      if (runs.length >= 4) break;
      await sleep(250);
    }
    assert.ok(runs.length >= 4, `only ${runs.length} scheduled runs completed`);
    await api.ok('POST', '/api/schedules/docs-often/pause');
    await sleep(2500);
    const snaps = await api.ok('GET', '/api/snapshots?app=docs');
    const ids = snaps.map((x: { id: string }) => x.id);
    assert.ok(ids.includes(pinned), 'the pinned snapshot survived retention');
    assert.equal(snaps.filter((x: { pinned: boolean }) => !x.pinned).length, 2, `keepLast 2 (plus the pin): ${JSON.stringify(snaps.map((x: { id: string; time: string }) => x.time))}`);
    assert.ok(runs.some((r) => (r.result.retention?.removed.length ?? 0) > 0));
    // Paused: no new runs.
    const count = (await api.ok('GET', '/api/jobs?kind=backup&limit=100')).length;
    await sleep(3000);
    assert.equal((await api.ok('GET', '/api/jobs?kind=backup&limit=100')).length, count);
    const shown = await api.ok('GET', '/api/schedules/docs-often');
    assert.equal(shown.paused, true);
    assert.deepEqual(shown.nextRuns, []);
    // The retention preview (a dry run) agrees: everything kept now.
    const prev = await api.ok('GET', '/api/schedules/docs-often/retention');
    assert.ok(prev.decisions.every((d: { keep: boolean }) => d.keep));

    // Overlap: a schedule of the slow application every second is skipped while its run goes on.
    const slow = await api.ok('POST', '/api/schedules', { name: 'slow-often', app: 'slow', cron: '* * * * * *' });
    const t1 = Date.now();
    let skipped = 0;
    while (Date.now() - t1 < 15000) {
      skipped = (await api.ok('GET', '/api/schedules/slow-often')).skipped;
      if (skipped >= 2) break;
      await sleep(300);
    }
    assert.ok(skipped >= 2, `skipped ${skipped}`);
    await api.ok('POST', '/api/schedules/slow-often/pause');
    const running = (await api.ok('GET', '/api/jobs?app=slow')).filter((j: { phase: string }) => j.phase === 'running' || j.phase === 'queued');
    assert.equal(running.length, 1, 'never two runs of one application at once');
    await api.ok('POST', `/api/jobs/${running[0].id}/cancel`);
    await api.waitJob(running[0].id);
    assert.match((await api.ok('GET', '/api/audit?action=schedule.skip')).at(0).details.busy, /^[0-9a-f]{16}$/);
    void slow;
  } finally {
    await srv.stop();
  }
});

test('server: TLS with a certificate and key; untrusted certificates get the fix; plain HTTP off loopback warns', async () => {
  const root = tmp();
  await prepareInstance(root, { docs: specs(root).docs });
  const key = path.join(root, 'key.pem');
  const cert = path.join(root, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  const srv = await startServe(root, { args: ['--tls-cert', cert, '--tls-key', key] });
  try {
    assert.match(srv.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const token = (await srv.local.okAsync(['token', 'create', 'tls'])).trim();
    const remote = instanceCli(tmp());
    const env = { STRONGBOX_SERVER: srv.url, STRONGBOX_TOKEN: token };
    const untrusted = await remote.runAsync(['app', 'list'], env);
    assert.equal(untrusted.code, 16);
    assert.match(untrusted.stderr, /not trusted .*NODE_EXTRA_CA_CERTS/);
    assert.match(await remote.okAsync(['app', 'list'], { ...env, NODE_EXTRA_CA_CERTS: cert }), /docs\s+1\.0/);
    // The session cookie is Secure over TLS.
    const res = await new Promise<{ cookie: string }>((resolve, reject) => {
      const req = httpsRequest(`${srv.url}/api/auth/login`, { method: 'POST', ca: readFileSync(cert), headers: { 'content-type': 'application/json' } }, (r) => {
        r.resume();
        resolve({ cookie: String(r.headers['set-cookie']) });
      });
      req.on('error', reject);
      req.end(JSON.stringify({ user: 'admin', password: ADMIN_PASSWORD }));
    });
    assert.match(res.cookie, /HttpOnly; SameSite=Strict; Max-Age=\d+; Secure/);
  } finally {
    await srv.stop();
  }
  const open = await startServe(root, { args: ['--host', '0.0.0.0'] });
  try {
    assert.match(open.err(), /WARNING: serving plain HTTP on 0\.0\.0\.0/);
  } finally {
    await open.stop();
  }
});

test('server: replication to a second destination, and maintenance (check + prune) now and on a schedule', async () => {
  const root = tmp();
  const local = await prepareInstance(root, { docs: specs(root).docs });
  await local.okAsync(['destination', 'add', 'offsite', path.join(root, 'offsite'), '--init'], { STRONGBOX_PASSWORD: 'another password entirely' });
  const srv = await startServe(root);
  try {
    const api = new Api(srv.url);
    await api.login('admin', ADMIN_PASSWORD);
    const first = (await api.waitJob((await api.ok('POST', '/api/snapshots', { apps: ['docs'] })).id)).result.snapshot;
    const copy = await api.waitJob((await api.ok('POST', `/api/snapshots/${first}/copy`, { to: 'offsite' })).id);
    assert.equal(copy.phase, 'completed', JSON.stringify(copy.errors));
    assert.equal(copy.result.copied.length, 1);
    const again = await api.waitJob((await api.ok('POST', '/api/snapshots/all/copy', { to: 'offsite' })).id);
    assert.equal(again.result.copied.length, 0, 'a re-run copies nothing');
    assert.equal((await api.ok('GET', '/api/snapshots?destination=offsite')).length, 1);

    // Unique data in a second snapshot, deleted: maintenance reclaims it.
    writeFileSync(path.join(root, 'data', 'big.bin'), randomBytes(3 * 1024 * 1024));
    const second = (await api.waitJob((await api.ok('POST', '/api/snapshots', { apps: ['docs'] })).id)).result.snapshot;
    await api.ok('DELETE', `/api/snapshots/${second}`);
    const m = await api.waitJob((await api.ok('POST', '/api/maintenance', { readDataPercent: 100, prune: true })).id);
    assert.equal(m.phase, 'completed', JSON.stringify(m.errors));
    assert.equal(m.result.check.ok, true);
    assert.ok(m.result.prune.reclaimedBytes > 1024 * 1024, JSON.stringify(m.result));
    // The same as a schedule, run now.
    await api.ok('POST', '/api/schedules', { name: 'upkeep', kind: 'maintenance', cron: 'weekly', maintenance: { readDataPercent: 10, prune: true } });
    const run = await api.ok('POST', '/api/schedules/upkeep/run');
    const done = await api.waitJob(run.id);
    assert.equal(done.kind, 'prune');
    assert.equal(done.phase, 'completed');
    assert.equal(done.scheduleId, (await api.ok('GET', '/api/schedules/upkeep')).id);
    const token = (await api.ok('POST', '/api/tokens', { name: 'prom', role: 'viewer' })).token;
    assert.match((await new Api(srv.url, token).call<string>('GET', '/metrics')).body, /strongbox_repository_size_bytes\{destination="main"\} \d+/);
    await local.okAsync(['repo', 'check', '--read-data']);
  } finally {
    await srv.stop();
  }
});
