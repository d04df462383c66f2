import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage } from 'node:http';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import * as path from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { describeTree, instanceCli, tmp, writeRandom } from './testing/cli.js';
import { Api, ADMIN_PASSWORD, prepareInstance, startServe } from './testing/server.js';
import { signLicense } from '../../src/spec/index.js';

function docsSpec(root: string, name = 'docs', extra = ''): string {
  const data = path.join(root, 'data');
  mkdirSync(path.join(data, 'sub'), { recursive: true });
  writeFileSync(path.join(data, 'a.txt'), 'alpha\n');
  writeFileSync(path.join(data, 'sub', 'b.txt'), 'bravo\n'.repeat(5000));
  return `apiVersion: strongbox/v1\nkind: Application\nmetadata: { name: ${name}, version: "1.0" }\nspec:\n  components:\n    - name: files\n      files: { path: ${data} }\n${extra}`;
}

test('remote CLI: the same commands and output through a server; download, upload to another server, restore there', async () => {
  const rootA = tmp();
  const localA = await prepareInstance(rootA, { docs: docsSpec(rootA) });
  const a = await startServe(rootA);
  const rootB = tmp();
  await prepareInstance(rootB, { docs: docsSpec(rootB) });
  const b = await startServe(rootB, { args: ['--max-upload', '4M'] });
  try {
    // The first token for scripts is made on the server's machine.
    const tokenA = (await localA.okAsync(['token', 'create', 'ci', '--role', 'admin'])).trim();
    const tokenB = (await instanceCli(rootB).okAsync(['token', 'create', 'ci'])).trim();
    assert.match(tokenA, /^sbt_/);
    const remoteA = instanceCli(tmp());
    const envA = { STRONGBOX_SERVER: a.url, STRONGBOX_TOKEN: tokenA };
    const envB = { STRONGBOX_SERVER: b.url, STRONGBOX_TOKEN: tokenB };

    const created = await remoteA.runAsync(['snapshot', 'create', '--app', 'docs', '--tag', 'remote'], envA);
    assert.equal(created.code, 0, created.stderr);
    const id = created.stdout.trim();
    assert.match(id, /^[0-9a-f]{64}$/);
    assert.match(created.stderr, /docs\/files: completed/);

    // A plain file snapshot in the same destination, made on the server's machine.
    const plain = JSON.parse(await localA.okAsync(['snapshot', 'create', '--path', path.join(rootA, 'data'), '--json'])) as { id: string };
    // Same output as on the server's machine.
    for (const args of [['snapshot', 'list'], ['snapshot', 'list', '--json'], ['snapshot', 'show', id.slice(0, 8)], ['snapshot', 'show', plain.id.slice(0, 8)], ['snapshot', 'list', '--tag', 'remote'], ['snapshot', 'list', '--path', path.join(rootA, 'data'), '--json'], ['snapshot', 'list', '--host', 'no-such-host'], ['app', 'list'], ['app', 'show', 'docs'], ['destination', 'list', '--json'], ['destination', 'show', 'main'], ['snapshot', 'logs', id.slice(0, 8)], ['snapshot', 'logs', id.slice(0, 8), '--json'], ['user', 'list', '--json'], ['token', 'list', '--json'], ['license', 'list', '--json'], ['snapshot', 'ls', id.slice(0, 8)], ['snapshot', 'ls', plain.id.slice(0, 8), '-l'], ['snapshot', 'ls', id.slice(0, 8), '/docs/files/sub', '--json'], ['snapshot', 'diff', plain.id.slice(0, 8), id.slice(0, 8)]]) {
      // A token's last use is written at most once a minute, and the remote call uses the token: that field may move between the two.
      const mask = (out: string) => (args[0] === 'token' ? out.replace(/"lastUsedAt": "[^"]*"/g, '"lastUsedAt": "…"') : out);
      const there = mask(await localA.okAsync(args));
      const here = mask(await remoteA.okAsync(args, envA));
      assert.equal(here, there, `strongbox ${args.join(' ')}`);
    }
    assert.match(await remoteA.okAsync(['job', 'list'], envA), /backup\s+docs\s+completed/);

    // The files of an application snapshot: a directory through the API, one file downloaded, and restored with --target.
    const api = new Api(a.url, tokenA);
    const dir = await api.ok('GET', `/api/snapshots/${id.slice(0, 8)}/files?path=/docs/files`);
    assert.deepEqual(dir.entries.map((e: { path: string; type: string }) => [e.path, e.type]), [['/docs/files/a.txt', 'file'], ['/docs/files/sub', 'dir']]);
    const file = await fetch(`${a.url}/api/snapshots/${id.slice(0, 8)}/file?path=/docs/files/sub/b.txt`, { headers: { authorization: `Bearer ${tokenA}` } });
    assert.equal(file.status, 200);
    assert.equal(Buffer.from(await file.arrayBuffer()).toString(), 'bravo\n'.repeat(5000));
    assert.equal((await api.call('GET', `/api/snapshots/${id.slice(0, 8)}/file?path=/docs/files/sub`)).status, 400, 'a directory is not a file');
    const some = path.join(tmp(), 'some');
    await localA.okAsync(['snapshot', 'restore', id.slice(0, 8), '--target', some, '--include', '/docs/files/sub']);
    assert.deepEqual(readdirSync(path.join(some, 'docs', 'files')), ['sub']);

    // A change leaves the same audit entry, made here or through the server: pin, unpin, delete.
    const audited = async (action: string) => JSON.parse(await localA.okAsync(['audit', '--action', action, '--json'])) as { actor: string; target: string; outcome: string; ip: string | null }[];
    await localA.okAsync(['snapshot', 'pin', plain.id.slice(0, 8), '--reason', 'here']);
    await remoteA.okAsync(['snapshot', 'pin', id.slice(0, 8), '--reason', 'there'], envA);
    const pins = await audited('snapshot.pin');
    assert.deepEqual(pins.map((e) => [e.target, e.outcome]).sort(), [[id, 'ok'], [plain.id, 'ok']].sort());
    assert.ok(pins.some((e) => e.actor.startsWith('local:') && e.ip === null) && pins.some((e) => e.actor.startsWith('admin') && e.ip !== null), JSON.stringify(pins));
    assert.equal((await localA.runAsync(['snapshot', 'delete', plain.id.slice(0, 8)])).code, 1, 'a pinned snapshot is not deleted (CONFLICT), here either');
    for (const [cli, env, s] of [[localA, {}, plain.id], [remoteA, envA, id]] as const) await cli.okAsync(['snapshot', 'unpin', s.slice(0, 8)], env);
    assert.equal((await audited('snapshot.unpin')).length, 2);

    // A dry run into the (non-empty) original directory: exit 4 and the problem, as locally.
    const dry = await remoteA.runAsync(['snapshot', 'restore', id.slice(0, 8), '--dry-run'], envA);
    assert.equal(dry.code, 4, dry.stderr + dry.stdout);
    assert.match(dry.stdout, /not empty/);

    // Download through A, upload to B, restore on B into a new directory.
    const archive = path.join(tmp(), 'docs.sbx');
    const pwFile = path.join(tmp(), 'archive-pw');
    writeFileSync(pwFile, 'archive password 1\n');
    await remoteA.okAsync(['snapshot', 'download', id.slice(0, 8), '-o', archive, '--archive-password-file', pwFile], envA);
    const up = await remoteA.runAsync(['snapshot', 'upload', archive, '--archive-password-file', pwFile], envB);
    assert.equal(up.code, 0, up.stderr);
    assert.match(up.stdout, /1 imported/);
    const target = path.join(rootB, 'restored');
    const restored = await remoteA.runAsync(['snapshot', 'restore', 'latest', '--map', `files.path=${target}`], envB);
    assert.equal(restored.code, 0, restored.stderr + restored.stdout);
    assert.deepEqual(await describeTree(target), await describeTree(path.join(rootA, 'data')));

    // Hostile and broken uploads change nothing on B.
    const apiB = new Api(b.url, tokenB);
    const before = (await apiB.ok('GET', '/api/snapshots')).length;
    const junk = path.join(tmp(), 'junk.sbx');
    await writeRandom(junk, 200_000);
    const j1 = await remoteA.runAsync(['snapshot', 'upload', junk, '--archive-password-file', pwFile], envB);
    assert.equal(j1.code, 1, j1.stderr);
    const flipped = path.join(tmp(), 'flipped.sbx');
    const bytes = readFileSync(archive);
    bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
    writeFileSync(flipped, bytes);
    const j2 = await remoteA.runAsync(['snapshot', 'upload', flipped, '--archive-password-file', pwFile], envB);
    assert.notEqual(j2.code, 0);
    const wrongPw = path.join(tmp(), 'wrong-pw');
    writeFileSync(wrongPw, 'not the password');
    assert.notEqual((await remoteA.runAsync(['snapshot', 'upload', archive, '--archive-password-file', wrongPw], envB)).code, 0);
    const big = path.join(tmp(), 'big.sbx');
    await writeRandom(big, 5 * 1024 * 1024);
    const tooBig = await apiB.call('POST', '/api/snapshots/upload', undefined, { headers: { 'content-type': 'application/octet-stream', 'x-archive-password': 'x' }, raw: readFileSync(big) });
    assert.equal(tooBig.status, 413);
    assert.equal(tooBig.body.error.code, 'TOO_LARGE');
    const noPw = await apiB.call('POST', '/api/snapshots/upload', undefined, { headers: { 'content-type': 'application/octet-stream' }, raw: readFileSync(archive) });
    assert.equal(noPw.status, 401);
    assert.equal((await apiB.ok('GET', '/api/snapshots')).length, before);
    await instanceCli(rootB).okAsync(['repo', 'check']);

    // Errors keep their exit codes: a wrong token, an unreachable server, a missing snapshot, a local-only command.
    assert.equal((await remoteA.runAsync(['snapshot', 'list'], { ...envA, STRONGBOX_TOKEN: 'sbt_000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' })).code, 13);
    const down = await remoteA.runAsync(['snapshot', 'list'], { ...envA, STRONGBOX_SERVER: 'http://127.0.0.1:9' });
    assert.equal(down.code, 16);
    assert.match(down.stderr, /Cannot reach the Strongbox server at http:\/\/127\.0\.0\.1:9/);
    assert.equal((await remoteA.runAsync(['snapshot', 'show', 'ffffffff'], envA)).code, 1);
    const localOnly = await remoteA.runAsync(['repo', 'check'], envA);
    assert.equal(localOnly.code, 2);
    assert.match(localOnly.stderr, /works on the machine that holds the repository/);
  } finally {
    await Promise.all([a.stop(), b.stop()]);
  }
});

/** A webhook receiver that fails its first delivery (to prove retries) and records the rest. */
async function webhookReceiver() {
  const got: { body: Record<string, unknown> & { event?: string; job?: { app?: string }; summary?: string }; signature: string | undefined; raw: string }[] = [];
  let calls = 0;
  const srv = createHttpServer((req: IncomingMessage, res) => {
    let raw = '';
    req.on('data', (d: Buffer) => (raw += d.toString()));
    req.on('end', () => {
      calls++;
      if (calls === 1) {
        res.writeHead(503).end();
        return;
      }
      got.push({ body: JSON.parse(raw) as Record<string, unknown> & { event?: string; job?: { app?: string }; summary?: string }, signature: req.headers['x-strongbox-signature'] as string | undefined, raw });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}/hook`, got, calls: () => calls, close: () => new Promise((r) => srv.close(r)) };
}

/** A minimal SMTP relay that keeps the messages it is given. */
async function smtpReceiver() {
  const mails: { from: string; to: string[]; data: string }[] = [];
  const srv = createTcpServer((sock) => {
    let buf = '';
    let inData = false;
    let cur = { from: '', to: [] as string[], data: '' };
    sock.write('220 test ESMTP\r\n');
    sock.on('data', (d: Buffer) => {
      buf += d.toString();
      let i: number;
      while ((i = buf.indexOf('\r\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 2);
        if (inData) {
          if (line === '.') {
            inData = false;
            mails.push(cur);
            cur = { from: '', to: [], data: '' };
            sock.write('250 queued\r\n');
          } else cur.data += line + '\n';
          continue;
        }
        if (/^EHLO/i.test(line)) sock.write('250-test\r\n250 OK\r\n');
        else if (/^MAIL FROM:/i.test(line)) {
          cur.from = line.slice(10);
          sock.write('250 OK\r\n');
        } else if (/^RCPT TO:/i.test(line)) {
          cur.to.push(line.slice(8));
          sock.write('250 OK\r\n');
        } else if (/^DATA/i.test(line)) {
          inData = true;
          sock.write('354 go ahead\r\n');
        } else if (/^QUIT/i.test(line)) sock.end('221 bye\r\n');
        else sock.write('502 no\r\n');
      }
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return { port: (srv.address() as AddressInfo).port, mails, close: () => new Promise((r) => srv.close(r)) };
}

test('server: webhooks (signed, retried) and e-mail on failure and recovery; metrics, health and the API reference', async () => {
  const root = tmp();
  const flag = path.join(root, 'healthy');
  const flaky = `apiVersion: strongbox/v1\nkind: Application\nmetadata: { name: flaky, version: "1.0" }\nspec:\n  components:\n    - name: export\n      command:\n        backup: ["sh", "-c", "test -f ${flag} && echo data || { echo 'the export tool is broken' >&2; exit 1; }"]\n        restore: ["sh", "-c", "cat > /dev/null"]\n`;
  await prepareInstance(root, { flaky, docs: docsSpec(root) });
  const hook = await webhookReceiver();
  const smtp = await smtpReceiver();
  const srv = await startServe(root);
  try {
    const api = new Api(srv.url);
    await api.login('admin', ADMIN_PASSWORD);
    await api.ok('PUT', '/api/settings/notifications', { webhooks: [{ url: hook.url, secret: 'hook-secret' }], smtp: { host: '127.0.0.1', port: smtp.port, from: 'strongbox@example.org', to: ['ops@example.org'] } });
    // Webhook secrets are write-only and sealed in the catalog; "***" keeps the stored one.
    assert.equal((await api.ok('GET', '/api/settings/notifications')).webhooks[0].secret, '***');
    await api.ok('PUT', '/api/settings/notifications', { ...(await api.ok('GET', '/api/settings/notifications')) });
    for (const f of readdirSync(path.join(root, 'home'))) {
      const p = path.join(root, 'home', f);
      if (statSync(p).isFile()) assert.ok(!readFileSync(p).includes('hook-secret'), `${f} holds the webhook secret`);
    }
    const failed = await api.waitJob((await api.ok('POST', '/api/snapshots', { apps: ['flaky'] })).id);
    assert.equal(failed.phase, 'failed');
    assert.match(failed.errors.join(' '), /the export tool is broken/);
    writeFileSync(flag, '');
    const ok = await api.waitJob((await api.ok('POST', '/api/snapshots', { apps: ['flaky'] })).id);
    assert.equal(ok.phase, 'completed');
    const t0 = Date.now();
    while ((hook.got.length < 2 || smtp.mails.length < 2) && Date.now() - t0 < 20000) await sleep(100);
    assert.deepEqual(hook.got.map((g) => g.body.event), ['failure', 'recovery']);
    assert.ok(hook.calls() >= 3, 'the first delivery failed and was retried');
    for (const g of hook.got) assert.equal(g.signature, `sha256=${createHmac('sha256', 'hook-secret').update(g.raw).digest('hex')}`);
    assert.equal(hook.got[0]!.body.job?.app, 'flaky');
    assert.match(String(hook.got[0]!.body.summary), /backup of flaky failed: .*broken/);
    assert.equal(smtp.mails.length, 2);
    assert.match(smtp.mails[0]!.data, /Subject: \[Strongbox\] backup of flaky failed/);
    assert.deepEqual(smtp.mails[0]!.to, ['<ops@example.org>']);
    assert.match(smtp.mails[1]!.data, /succeeded again/);

    // Metrics for Prometheus (with a token), health without one.
    await api.waitJob((await api.ok('POST', '/api/snapshots', { apps: ['docs'] })).id);
    const anon = new Api(srv.url);
    assert.equal((await anon.call('GET', '/metrics')).status, 401);
    const token = (await api.ok('POST', '/api/tokens', { name: 'prometheus', role: 'viewer' })).token;
    const metrics = (await new Api(srv.url, token).call<string>('GET', '/metrics')).body;
    assert.match(metrics, /strongbox_last_successful_snapshot_timestamp_seconds\{destination="main",app="docs"\} \d+/);
    assert.match(metrics, /strongbox_jobs_total\{kind="backup",phase="failed"\} 1/);
    assert.match(metrics, /strongbox_last_job_duration_seconds\{kind="backup",app="flaky"\} [\d.]+/);
    assert.equal((await anon.call('GET', '/healthz')).status, 200);
    assert.equal((await anon.call('GET', '/readyz')).body.status, 'ready');
    // The OpenAPI document covers every route, with the role each needs; the reference page renders it.
    const doc = (await anon.call('GET', '/api/openapi.json')).body;
    assert.equal(doc.openapi, '3.1.0');
    for (const p of ['/api/snapshots', '/api/snapshots/{id}/restore', '/api/jobs/{id}/events', '/api/schedules', '/api/users', '/api/tokens', '/api/licenses', '/api/audit', '/api/destinations']) assert.ok(doc.paths[p], p);
    const ops = Object.values(doc.paths).flatMap((x) => Object.values(x as Record<string, { 'x-required-role': string }>));
    assert.ok(ops.length >= 40, `${ops.length} operations`);
    assert.ok(ops.every((o) => o['x-required-role']));
    assert.ok(doc.paths['/api/snapshots'].post.requestBody.content['application/json'].schema.properties.apps);
    const page = (await anon.call<string>('GET', '/api/docs')).body;
    assert.match(page, /POST<\/span> <code>\/api\/snapshots\/:id\/restore<\/code>/);
  } finally {
    await srv.stop();
    await hook.close();
    await smtp.close();
  }
});

test('server: an application with a vendor key needs a valid license for snapshots and schedules', async () => {
  const root = tmp();
  const local = instanceCli(root, 'correct horse battery staple');
  const keyFile = path.join(root, 'vendor.key');
  const out = await local.okAsync(['license', 'keygen', '--private-key', keyFile]);
  const publicKey = /publicKey: (\S+)/.exec(out)![1]!;
  await prepareInstance(root, { pro: docsSpec(root, 'pro', `  license:\n    publicKey: ${publicKey}\n`) });
  const srv = await startServe(root);
  try {
    const api = new Api(srv.url);
    await api.login('admin', ADMIN_PASSWORD);
    const refused = await api.call('POST', '/api/snapshots', { apps: ['pro'] });
    assert.equal(refused.status, 402);
    assert.equal(refused.body.error.code, 'LICENSE_REQUIRED');
    assert.match(refused.body.error.message, /needs a license from its vendor .*strongbox license install FILE/);
    assert.equal((await api.call('POST', '/api/schedules', { name: 'pro-daily', app: 'pro', cron: 'daily' })).status, 402);
    const full = await api.call('POST', '/api/snapshots', { full: true });
    assert.equal(full.status, 402, 'a full snapshot holds the licensed application too');
    const app = await api.ok('GET', '/api/applications/pro');
    assert.equal(app.license.ok, false);

    // A license signed by another vendor, or tampered with, is refused at install.
    const other = path.join(root, 'other.key');
    await local.okAsync(['license', 'keygen', '--private-key', other]);
    const otherLic = path.join(root, 'other.license');
    await local.okAsync(['license', 'sign', '--private-key', other, '--licensee', 'ACME', '--product', 'pro', '-o', otherLic]);
    const remote = instanceCli(tmp());
    const token = (await local.okAsync(['token', 'create', 'ci'])).trim();
    const env = { STRONGBOX_SERVER: srv.url, STRONGBOX_TOKEN: token };
    const bad = await remote.runAsync(['license', 'install', otherLic], env);
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /does not match the vendor key/);

    // The vendor's license: snapshots work; the CLI shows it.
    const lic = path.join(root, 'acme.license');
    await local.okAsync(['license', 'sign', '--private-key', keyFile, '--licensee', 'ACME', '--product', 'pro', '--days', '30', '-o', lic]);
    assert.match(await remote.okAsync(['license', 'install', lic], env), /Installed license .* for pro/);
    assert.match(await remote.okAsync(['license', 'list'], env), /ACME\s+pro\s+snapshots/);
    const created = await remote.runAsync(['snapshot', 'create', '--app', 'pro'], env);
    assert.equal(created.code, 0, created.stderr);
    assert.equal((await api.ok('GET', '/api/applications/pro')).license.ok, true);

    // An expired license (the only one) refuses again, naming the date.
    const expired = signLicense({ id: 'lic_old', licensee: 'ACME', product: 'pro', entitlements: ['snapshots'], issuedAt: '2025-01-01T00:00:00Z', expiresAt: '2025-06-01T00:00:00Z' }, readFileSync(keyFile, 'utf8'));
    const licenses = await api.ok('GET', '/api/licenses');
    for (const l of licenses) await api.ok('DELETE', `/api/licenses/${l.id}`);
    await api.ok('POST', '/api/licenses', expired);
    const again = await api.call('POST', '/api/snapshots', { apps: ['pro'] });
    assert.equal(again.status, 402);
    assert.match(again.body.error.message, /expired on 2025-06-01/);
    const cli = await remote.runAsync(['snapshot', 'create', '--app', 'pro'], env);
    assert.equal(cli.code, 15, cli.stderr);
  } finally {
    await srv.stop();
  }
});
