// The hostile-archive suite: each promise of docs/SECURITY.md, tried as an attacker would — with
// archives whose seals are right (the attacker holds their password) but whose trees, manifests
// and specs are crafted; and with a real server, as an operator who wants more than their role.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { test } from 'node:test';
import { request } from 'node:http';
import { getAttributeSync } from 'fs-xattr';
import { BIN, Cli, instanceCli, tmp } from './testing/cli.js';
import { BlobSaver, blobId, CodecPool, Repository, seal } from '../../src/repo/index.js';
import { LocalBackend } from '../../src/storage/local/local-backend.js';
import { craft, manifest, node } from './testing/forge.js';
import { Api, ADMIN_PASSWORD, prepareInstance, startServe } from './testing/server.js';
import { startPostgres } from './testing/servers.js';

const ARCHIVE_PW = { STRONGBOX_ARCHIVE_PASSWORD: 'evil-pass' };

/** Signs in from a chosen loopback source address (the whole of 127.0.0.0/8 is this machine); the HTTP status. */
function loginFrom(url: string, localAddress: string, user: string, password: string): Promise<number> {
  const u = new URL('/api/auth/login', url);
  const body = JSON.stringify({ user, password });
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', localAddress, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Runs the CLI with a time bound: a hostile restore must finish or fail, never hang. */
function bounded(cli: Cli, args: string[], ms = 60_000, extra: NodeJS.ProcessEnv = {}): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { env: cli.env({ ...ARCHIVE_PW, STRONGBOX_IMPORT_MAX_FILES: '100000', ...extra }), encoding: 'utf8', timeout: ms, killSignal: 'SIGKILL' });
  assert.notEqual(r.signal, 'SIGKILL', `strongbox ${args.join(' ')} hung (killed after ${ms} ms)`);
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

test('hostile trees: non-UTF-8 FIFO names, device nodes, setuid files, privileged xattrs and hard links through symlinks never write outside the target or into a device', async () => {
  const root = tmp('sb-hostile-tree-');
  const victim = instanceCli(root, 'pw-victim');
  victim.ok(['destination', 'add', 'main', path.join(root, 'repo'), '--init']);
  const outside = path.join(root, 'outside');
  await fs.mkdir(outside);
  writeFileSync(path.join(outside, 'secret'), 'the outside file');
  const archive = path.join(root, 'tree.sbx');
  const rawName = Buffer.from([0x78, 0xff]); // "x" + an invalid UTF-8 byte: lossy decoding would make it "x\uFFFD"
  await craft(archive, 'evil-pass', async (f) => {
    const payload = [await f.data('payload')];
    const inner = await f.tree([node('inner', 'file', { size: 5, content: [await f.data('inner')] })]);
    return manifest(
      await f.tree([
        node(rawName, 'fifo', { mode: 0o644 }),
        node('x\uFFFD', 'file', { size: 7, content: payload }),
        node('null', 'chardev', { mode: 0o666, rdev: String((1 << 8) | 3) }),
        node('suid', 'file', { mode: 0o4755, size: 7, content: payload }),
        node('caps', 'file', { size: 7, content: payload, xattrs: { 'trusted.evil': Buffer.from('x').toString('base64'), 'security.evil': Buffer.from('y').toString('base64') } }),
        node('lnk', 'symlink', { mode: 0o777, target: outside }),
        node('hl', 'hardlink', { linkTo: Buffer.from('/lnk/secret').toString('base64'), size: 0 }),
        node('orig', 'file', { size: 7, content: payload, links: 2 }),
        node('twin', 'hardlink', { linkTo: Buffer.from('/orig').toString('base64'), size: 0 }),
        node('sub', 'dir', { subtree: inner }),
      ]),
    );
  });
  victim.ok(['snapshot', 'upload', archive], ARCHIVE_PW);

  const out = path.join(root, 'out');
  const r = bounded(victim, ['snapshot', 'restore', 'latest', '--target', out]);
  assert.equal(r.code, 1, `the refused hard link is an error: ${r.stderr}`);
  assert.match(r.stderr, /refusing a hard link to \/lnk\/secret/);
  assert.deepEqual(readdirSync(outside), ['secret'], 'nothing was written outside the target');
  assert.equal(statSync(path.join(outside, 'secret')).nlink, 1, 'no hard link reaches the outside file');
  assert.equal(readFileSync(path.join(outside, 'secret'), 'utf8'), 'the outside file');
  // Names are bytes end to end: the FIFO keeps its own name, the file with the look-alike name gets its data.
  assert.ok(lstatSync(Buffer.concat([Buffer.from(out + '/'), rawName])).isFIFO());
  assert.ok(lstatSync(path.join(out, 'x\uFFFD')).isFile());
  assert.equal(readFileSync(path.join(out, 'x\uFFFD'), 'utf8'), 'payload');
  // Privileges only with --keep-privileges.
  assert.equal(existsSync(path.join(out, 'null')), false, 'no device node without --keep-privileges');
  assert.match(r.stderr, /device node not restored: device nodes are restored only with --keep-privileges/);
  assert.equal(statSync(path.join(out, 'suid')).mode & 0o7777, 0o755, 'the setuid bit is dropped');
  assert.throws(() => getAttributeSync(path.join(out, 'caps'), 'trusted.evil'));
  assert.throws(() => getAttributeSync(path.join(out, 'caps'), 'security.evil'));
  // What is legitimate still comes back.
  assert.equal(statSync(path.join(out, 'twin')).ino, statSync(path.join(out, 'orig')).ino, 'a hard link to a file of this restore is kept');
  assert.equal(readFileSync(path.join(out, 'sub', 'inner'), 'utf8'), 'inner');

  // An admin who trusts the snapshot asks for privileges explicitly (we are root here).
  if (process.getuid?.() === 0) {
    const out2 = path.join(root, 'out2');
    bounded(victim, ['snapshot', 'restore', 'latest', '--target', out2, '--keep-privileges']);
    assert.ok(lstatSync(path.join(out2, 'null')).isCharacterDevice());
    assert.equal(statSync(path.join(out2, 'suid')).mode & 0o7777, 0o4755);
  }
});

test('commands in a snapshot never run: an uploaded application snapshot restores its data only, into targets given here; the dry run lists what would not run', async () => {
  const root = tmp('sb-hostile-cmd-');
  const marks = path.join(root, 'marks');
  await fs.mkdir(marks);
  const src = path.join(root, 'src');
  await fs.mkdir(src);
  writeFileSync(path.join(src, 'data.txt'), 'application data');
  const touch = (m: string) => `["sh", "-c", "touch ${path.join(marks, m)}"]`;
  const spec = path.join(root, 'evil.yaml');
  writeFileSync(
    spec,
    `apiVersion: strongbox/v1\nkind: Application\nmetadata: { name: evil, version: "1" }\nspec:\n  hooks:\n    preRestore: [{ name: pre, exec: ${touch('pre')} }]\n    postRestore: [{ name: post, exec: ${touch('post')} }]\n  components:\n    - name: data\n      files: { path: ${src} }\n      hooks: { preRestore: [{ name: cpre, exec: ${touch('cpre')} }] }\n    - name: idx\n      command: { backup: ["sh", "-c", "echo index"], restore: ${touch('restore')}, check: ${touch('check')} }\n`,
  );
  // The attacker's instance: an application whose restore hooks and commands would run as root.
  const attacker = instanceCli(path.join(root, 'a'), 'pw-attacker');
  attacker.ok(['destination', 'add', 'main', path.join(root, 'repo-a'), '--init']);
  attacker.ok(['app', 'add', '-f', spec]);
  const snap = attacker.json<{ id: string }>(['snapshot', 'create', '--app', 'evil']);
  const archive = path.join(root, 'evil.sbx');
  attacker.ok(['snapshot', 'download', snap.id, '-o', archive], ARCHIVE_PW);

  const victim = instanceCli(path.join(root, 'b'), 'pw-victim');
  victim.ok(['destination', 'add', 'main', path.join(root, 'repo-b'), '--init']);
  victim.ok(['snapshot', 'upload', archive], ARCHIVE_PW);

  const dry = bounded(victim, ['snapshot', 'restore', 'latest', '--dry-run']);
  assert.equal(dry.code, 4, dry.stderr);
  assert.match(dry.stdout, /will NOT run evil hooks: the snapshot's own spec/);
  assert.match(dry.stdout, /application evil is not installed on this instance, so the targets in its snapshot are not trusted/);
  assert.match(dry.stdout, /a command component is restored by a command that only an installed spec may give/);
  const full = bounded(victim, ['snapshot', 'restore', 'latest']);
  assert.equal(full.code, 4, full.stderr);
  assert.match(full.stderr, /Nothing was changed/);
  // The data alone, into a target named here.
  const into = path.join(root, 'restored');
  const data = bounded(victim, ['snapshot', 'restore', 'latest', '--component', 'data', '--map', `data.path=${into}`]);
  assert.equal(data.code, 0, data.stderr);
  assert.equal(readFileSync(path.join(into, 'data.txt'), 'utf8'), 'application data');
  assert.deepEqual(readdirSync(marks), [], 'no command from the snapshot ran');

  // The same application installed here by an admin: its hooks (ours, not the snapshot's) run.
  const ours = path.join(root, 'ours.yaml');
  const ourMarks = path.join(root, 'our-marks');
  await fs.mkdir(ourMarks);
  writeFileSync(ours, `apiVersion: strongbox/v1\nkind: Application\nmetadata: { name: evil, version: "1" }\nspec:\n  hooks:\n    postRestore: [{ name: ours, exec: ["sh", "-c", "touch ${path.join(ourMarks, 'ran')}"] }]\n  components:\n    - name: data\n      files: { path: ${path.join(root, 'installed-target')} }\n`);
  victim.ok(['app', 'add', '-f', ours]);
  const plan = bounded(victim, ['snapshot', 'restore', 'latest', '--component', 'data', '--dry-run']);
  assert.equal(plan.code, 0, plan.stderr);
  assert.match(plan.stdout, /will run evil postRestore: ours: sh -c touch .*\[from the spec installed here\]/);
  assert.match(plan.stdout, new RegExp(`→ ${path.join(root, 'installed-target')}`), 'the target is the installed spec\'s, not the snapshot\'s');
  assert.equal(bounded(victim, ['snapshot', 'restore', 'latest', '--component', 'data']).code, 0);
  assert.ok(existsSync(path.join(ourMarks, 'ran')));
  assert.deepEqual(readdirSync(marks), [], 'still nothing from the snapshot ran');
});

test('secrets stay with their targets; rights are current; operators cannot shorten history; the sign-in limiter holds under parallel guesses', async () => {
  const root = tmp('sb-hostile-srv-');
  const data = path.join(root, 'data');
  await fs.mkdir(data);
  writeFileSync(path.join(data, 'f.txt'), 'x');
  const pg = await startPostgres({ passwordFor: { user: 'app', password: 'pg-app-secret' } });
  pg.psql('postgres', 'CREATE DATABASE appdb OWNER app');
  await prepareInstance(root, {
    docs: `apiVersion: strongbox/v1\nkind: Application\nmetadata: { name: docs, version: "1.0" }\nspec:\n  components:\n    - name: files\n      files: { path: ${data} }\n    - name: db\n      postgres: { url: "${pg.url('appdb', 'app')}", passwordFrom: { env: APP_DB_PASSWORD } }\n`,
  });
  const srv = await startServe(root, { env: { STRONGBOX_LOGIN_ATTEMPTS: '5', APP_DB_PASSWORD: 'pg-app-secret' } });
  try {
    const admin = new Api(srv.url);
    await admin.login('admin', ADMIN_PASSWORD);
    await admin.ok('PUT', '/api/settings/security', { operatorsMayRestore: true });
    await admin.ok('POST', '/api/users', { name: 'olivia', role: 'operator', password: 'operator-password', mustChangePassword: false });
    const o = new Api(srv.url);
    await o.login('olivia', 'operator-password');
    const token = (await o.ok('POST', '/api/tokens', { name: 'olivia-script' })).token as string;
    const op = new Api(srv.url, token);
    const job = await op.ok('POST', '/api/snapshots', { apps: ['docs'] });
    await op.waitJob(job.id);

    // 1. An operator cannot send the stored password elsewhere, nor read a password from elsewhere.
    const exfil = [
      [{ component: 'db', field: 'url', value: 'postgres://x@127.0.0.2:5432/x' }],
      [{ component: 'db', field: 'passwordFrom.env', value: 'PATH' }],
      [{ component: 'db', field: 'passwordFrom.file', value: '/etc/hostname' }],
    ];
    for (const maps of exfil) {
      const r = await op.call('POST', '/api/snapshots/latest/restore', { dryRun: true, components: ['db'], maps });
      if (r.status === 202) {
        const j = await op.waitJob(r.body.id);
        assert.equal(j.phase, 'failed', JSON.stringify(maps));
        assert.match(JSON.stringify(j.errors), /only an admin may do that/);
      } else assert.equal(r.status, 403, JSON.stringify(r.body));
    }
    // Another database on the same server is fine for an operator (the password goes where it always went).
    const same = await op.call('POST', '/api/snapshots/latest/restore', { dryRun: true, components: ['db'], maps: [{ component: 'db', field: 'url', value: pg.url('otherdb', 'app') }] });
    assert.equal(same.status, 202);
    const sj = await op.waitJob(same.body.id);
    assert.equal(sj.phase, 'completed', JSON.stringify(sj.errors));
    // Strongbox's own variables can never be a component's password, not even for an admin.
    const own = await admin.call('POST', '/api/snapshots/latest/restore', { dryRun: true, components: ['db'], maps: [{ component: 'db', field: 'passwordFrom.env', value: 'STRONGBOX_ADMIN_PASSWORD' }] });
    const oj = own.status === 202 ? await admin.waitJob(own.body.id) : { phase: 'refused', errors: [JSON.stringify(own.body)] };
    assert.notEqual(oj.phase, 'completed');
    assert.match(JSON.stringify(oj.errors), /Strongbox's own variables/);
    // Only an admin passes a spec (its commands would run here).
    const specRestore = await op.call('POST', '/api/snapshots/latest/restore', { dryRun: true, specs: ['apiVersion: strongbox/v1'] });
    const spj = specRestore.status === 202 ? await op.waitJob(specRestore.body.id) : { errors: [JSON.stringify(specRestore.body)] };
    assert.match(JSON.stringify(spj.errors), /Only an admin may pass a spec/);

    // 2. Operators cannot shorten history: no retention that forgets, no prune.
    const keep1 = await op.call('POST', '/api/schedules', { name: 'short', app: 'docs', cron: 'daily', retention: { keepLast: 1 } });
    assert.equal(keep1.status, 403);
    const prune = await op.call('POST', '/api/schedules', { name: 'prune', kind: 'maintenance', cron: 'daily' });
    assert.equal(prune.status, 403);
    assert.equal((await op.call('POST', '/api/schedules', { name: 'keepall', app: 'docs', cron: 'daily' })).status, 201);
    assert.equal((await op.call('PATCH', '/api/schedules/keepall', { retention: { keepLast: 1 } })).status, 403);
    // An admin's retention deletes, and every removal is audited with who and why.
    await admin.ok('POST', '/api/schedules', { name: 'adm', app: 'docs', cron: 'daily', retention: { keepLast: 1 } });
    for (let i = 0; i < 2; i++) await admin.waitJob((await admin.ok('POST', '/api/schedules/adm/run')).id);
    const audit = await admin.ok('GET', '/api/audit?action=snapshot.forget');
    const entries = (Array.isArray(audit) ? audit : audit.entries) as { actor: string; details: { reason: string } }[];
    assert.ok(entries.some((e) => e.actor === 'schedule adm' && e.details.reason === 'retention'), JSON.stringify(audit));

    // 3. Rights are current: a demoted user's token is demoted; a password reset revokes tokens.
    assert.equal((await op.call('POST', '/api/snapshots', { apps: ['docs'] })).status, 202);
    await admin.ok('PATCH', '/api/users/olivia', { role: 'viewer' });
    assert.equal((await op.call('POST', '/api/snapshots', { apps: ['docs'] })).status, 403, 'the token lost the operator role with its user');
    assert.equal((await op.call('GET', '/api/snapshots')).status, 200);
    await admin.ok('PATCH', '/api/users/olivia', { password: 'a-new-password-1', mustChangePassword: false });
    assert.equal((await op.call('GET', '/api/snapshots')).status, 401, 'a password reset revokes the tokens');

    // 4. The limiter reserves before verifying: 20 parallel wrong passwords, at most 5 verified.
    const guesses = await Promise.all(Array.from({ length: 20 }, () => new Api(srv.url).login('admin', 'wrong-password-xx')));
    assert.ok(guesses.filter((g) => g.status === 401).length <= 5, guesses.map((g) => g.status).join(','));
    // ... and it keys on (user, address): the admin is not locked out of another address.
    assert.equal(await loginFrom(srv.url, '127.0.0.2', 'admin', ADMIN_PASSWORD), 200, 'the admin still signs in from another address');
    assert.equal(await loginFrom(srv.url, '127.0.0.1', 'admin', ADMIN_PASSWORD), 429, 'the guessing address stays locked');
    // A malformed cookie is ignored, not a server error.
    const bad = await fetch(`${srv.url}/api/snapshots`, { headers: { cookie: 'sb_session=%E0%A4%A' } });
    assert.equal(bad.status, 401);
  } finally {
    await srv.stop();
    pg.stop();
  }
});

test('foreign manifests and size bombs: a future time, a file that claims more than its chunks, a tree that names one subtree a million times — refused at upload, nothing imported', async () => {
  const root = tmp('sb-hostile-size-');
  const victim = instanceCli(root, 'pw-victim');
  victim.ok(['destination', 'add', 'main', path.join(root, 'repo'), '--init']);
  const future = path.join(root, 'future.sbx');
  await craft(future, 'evil-pass', async (f) => manifest(await f.tree([node('a', 'file', { size: 5, content: [await f.data('hello')] })]), { time: '2999-01-01T00:00:00Z' }));
  const lying = path.join(root, 'lying.sbx');
  await craft(lying, 'evil-pass', async (f) => manifest(await f.tree([node('a', 'file', { size: 2 ** 40, content: [await f.data('hello')] })])));
  const fanout = path.join(root, 'fanout.sbx');
  await craft(fanout, 'evil-pass', async (f) => {
    // Each level names the one below 16 times: 16^6 = 16.7 million entries from seven small trees.
    let sub = await f.tree([node('leaf', 'file', { size: 5, content: [await f.data('hello')] })]);
    for (let level = 0; level < 6; level++) sub = await f.tree(Array.from({ length: 16 }, (_, i) => node(`d${i}`, 'dir', { subtree: sub })));
    return manifest(sub);
  });
  const cases: [string, number, RegExp][] = [
    [future, 1, /is in the future/],
    [lying, 1, /claims 1099511627776 bytes but its chunks hold 5/],
    [fanout, 2, /expand to more than 100000 entries/],
  ];
  for (const [file, code, why] of cases) {
    const r = bounded(victim, ['snapshot', 'upload', file], 120_000);
    assert.equal(r.code, code, r.stderr);
    assert.match(r.stderr, why);
    assert.match(r.stderr, /Nothing was imported/);
  }
  assert.deepEqual(victim.json<unknown[]>(['snapshot', 'list']), []);
  // A sane archive reports what it really holds.
  const sane = path.join(root, 'sane.sbx');
  await craft(sane, 'evil-pass', async (f) => manifest(await f.tree([node('a', 'file', { size: 5, content: [await f.data('hello')] })])));
  assert.match(victim.ok(['snapshot', 'upload', sane], ARCHIVE_PW), /verified: 1 snapshot\(s\) expanding to 1 file\(s\), 0 dir\(s\), 5 B/);
});

test('names with control characters are quoted in listings: a crafted name cannot rewrite the terminal or forge a line', async () => {
  const root = tmp('sb-hostile-names-');
  const victim = instanceCli(root, 'pw-victim');
  victim.ok(['destination', 'add', 'main', path.join(root, 'repo'), '--init']);
  const archive = path.join(root, 'names.sbx');
  await craft(archive, 'evil-pass', async (f) => manifest(await f.tree([node('evil\u001b[2J\nforged line', 'file', { size: 5, content: [await f.data('hello')] })]), { tags: ['tag\u001b]0;title\u0007'] }));
  victim.ok(['snapshot', 'upload', archive], ARCHIVE_PW);
  const ls = victim.ok(['snapshot', 'ls', 'latest']);
  assert.match(ls, /evil\\x1b\[2J\\x0aforged line/);
  assert.doesNotMatch(ls, /\u001b/);
  const list = victim.ok(['snapshot', 'list']);
  assert.doesNotMatch(list, /\u001b|\u0007/);
  assert.match(list, /tag\\x1b\]0;title\\x07/);
});

test('role matrix: every route of the API refuses every role below the one it declares, for sessions and for tokens of demoted users; routes that carry commands or secrets are admin-only', async () => {
  const root = tmp('sb-hostile-matrix-');
  await prepareInstance(root);
  const srv = await startServe(root);
  try {
    const admin = new Api(srv.url);
    await admin.login('admin', ADMIN_PASSWORD);
    for (const [name, role] of [['olga', 'operator'], ['vera', 'viewer'], ['dora', 'operator']] as const) await admin.ok('POST', '/api/users', { name, role, password: `${name}-password-1`, mustChangePassword: false });
    const session = async (user: string) => {
      const a = new Api(srv.url);
      await a.login(user, `${user}-password-1`);
      return a;
    };
    const olga = await session('olga');
    const vera = await session('vera');
    // dora's token is minted while she is an operator; then she is demoted: the token must act as a viewer.
    const dora = await session('dora');
    const demotedToken = new Api(srv.url, (await dora.ok('POST', '/api/tokens', { name: 'dora-script' })).token);
    await admin.ok('PATCH', '/api/users/dora', { role: 'viewer' });
    const spec = (await admin.ok('GET', '/api/openapi.json')) as { paths: Record<string, Record<string, { 'x-required-role': string }>> };
    const rank: Record<string, number> = { public: -1, authenticated: 0, viewer: 0, operator: 1, admin: 2 };
    const callers: [string, Api | undefined, number][] = [
      ['anonymous', new Api(srv.url), -1],
      ['viewer session', vera, 0],
      ['operator session', olga, 1],
      ['demoted operator token', demotedToken, 0],
    ];
    let checked = 0;
    for (const [p, ops] of Object.entries(spec.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        const need = rank[op['x-required-role']]!;
        const url = p.replace(/\{[^}]+\}/g, 'x');
        for (const [who, api, level] of callers) {
          if (level >= need) continue;
          const r = await api!.call(method.toUpperCase(), url, ['post', 'put', 'patch'].includes(method) ? {} : undefined);
          assert.equal(r.status, level < 0 ? 401 : 403, `${method.toUpperCase()} ${p} as ${who}: ${r.status} ${JSON.stringify(r.body).slice(0, 200)}`);
          checked++;
        }
      }
    }
    assert.ok(checked > 100, `${checked} (route, caller) pairs checked`);
    // What carries commands or secrets: application specs, destinations, settings, users and accounts — admin only.
    const carriers = ['POST /api/applications', 'DELETE /api/applications/{name}', 'POST /api/destinations', 'PATCH /api/destinations/{name}', 'PUT /api/settings/notifications', 'PUT /api/settings/security', 'POST /api/users', 'PATCH /api/users/{name}'];
    for (const c of carriers) {
      const [m, p] = c.split(' ') as [string, string];
      assert.equal(spec.paths[p]?.[m.toLowerCase()]?.['x-required-role'], 'admin', c);
    }
  } finally {
    await srv.stop();
  }
});

test('a YAML alias bomb or an oversized spec is refused with a clear reason, exit 2 in the CLI and 400 in the API, and changes nothing', async () => {
  const root = tmp('sb-hostile-spec-');
  const cli = instanceCli(root);
  const levels = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]'];
  for (let i = 1; i < 9; i++) levels.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(10).fill(`*${String.fromCharCode(96 + i)}`).join(',')}]`);
  const bomb = path.join(root, 'bomb.yaml');
  writeFileSync(bomb, `${levels.join('\n')}\napiVersion: strongbox/v1\nkind: Application\n`);
  const r = bounded(cli, ['app', 'validate', '-f', bomb], 20_000);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stdout + r.stderr, /Excessive alias count|alias/i);
  const big = path.join(root, 'big.yaml');
  writeFileSync(big, `# ${'x'.repeat(300 * 1024)}\napiVersion: strongbox/v1\n`);
  const b = bounded(cli, ['app', 'add', '-f', big], 20_000);
  assert.equal(b.code, 2, b.stderr);
  assert.match(b.stdout + b.stderr, /at most 262144/);
  assert.deepEqual(cli.json<unknown[]>(['app', 'list']), []);
  await prepareInstance(path.join(root, 'srv'));
  const srv = await startServe(path.join(root, 'srv'));
  try {
    const admin = new Api(srv.url);
    await admin.login('admin', ADMIN_PASSWORD);
    const res = await admin.call('POST', '/api/applications/validate', { spec: readFileSync(bomb, 'utf8') });
    assert.equal(res.status === 400 || (res.status === 200 && (res.body as { ok: boolean }).ok === false), true, JSON.stringify(res.body).slice(0, 200));
    assert.match(JSON.stringify(res.body), /alias/i);
  } finally {
    await srv.stop();
  }
});

test('a repository whose index claims a data blob of gigabytes: the restore names the file as damaged without reading it, and restores the rest', async () => {
  const root = tmp();
  const repoDir = path.join(root, 'repo');
  const cli = new Cli(repoDir);
  const repo = await Repository.init(new LocalBackend(repoDir), cli.password, { scrypt: { N: 1024, r: 8, p: 1 } });
  const pool = new CodecPool(repo.master, repo.config, 1);
  try {
    const saver = new BlobSaver(repo, pool);
    const save = async (type: 'data' | 'tree', bytes: Buffer) => {
      const id = blobId(repo.master.mac, bytes);
      await saver.save(type, id, bytes);
      return id.toString('hex');
    };
    const good = await save('data', Buffer.from('hello'));
    const fake = blobId(repo.master.mac, Buffer.from('never stored'));
    const tree = await save('tree', Buffer.from(JSON.stringify({ nodes: [node('good.txt', 'file', { size: 5, content: [good] }), node('huge.bin', 'file', { size: 10, content: [fake.toString('hex')] })] })));
    await saver.flush();
    // An index entry that places the missing blob in a real pack with a length of almost 4 GiB.
    const pack = repo.locate(Buffer.from(good, 'hex'))!.pack;
    await repo.saveIndex({ supersedes: [], packs: [{ id: pack, blobs: [{ type: 'data', id: fake, offset: 0, length: 0xfffffff0, rawLength: 10 }] }] });
    await repo.saveJSON('snapshots', manifest(tree));
  } finally {
    await pool.close();
  }
  const out = path.join(root, 'out');
  const r = bounded(cli, ['snapshot', 'restore', 'latest', '--target', out]);
  // Exit 1: the restore finished with files in error (docs/CLI.md).
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /huge\.bin.*impossible length \(4294967280 bytes\)/s);
  assert.equal(readFileSync(path.join(out, 'good.txt'), 'utf8'), 'hello');
});

test('a crafted config is refused before anything uses it: an id that climbs out of the cache, a chunker of a terabyte, a pack of a byte, an unknown compression', async () => {
  const root = tmp();
  const repoDir = path.join(root, 'repo');
  const cli = new Cli(repoDir);
  const repo = await Repository.init(new LocalBackend(repoDir), cli.password, { scrypt: { N: 1024, r: 8, p: 1 } });
  const good = { ...repo.config };
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['an id that is a path', { ...good, id: '../../../escaped' }, /its id is not 64 hex digits/],
    ['a chunker of a terabyte', { ...good, chunker: { min: 1024, avg: 2 ** 39, max: 2 ** 40 } }, /chunker sizes are not/],
    ['a chunker whose sizes are out of order', { ...good, chunker: { min: 8192, avg: 4096, max: 65536 } }, /chunker sizes are not/],
    ['a pack of a byte', { ...good, packSize: 1 }, /pack size is not/],
    ['another compression', { ...good, compression: { algorithm: 'lzma', level: 9 } }, /compression is not zstd/],
    ['a gear seed that is not hex', { ...good, gearSeed: 'x'.repeat(64) }, /gear seed is not/],
    ['another format version', { ...good, version: 2 }, /format version 2 is not supported.*upgrade Strongbox/],
  ];
  const cacheDir = path.join(root, 'cache');
  for (const [what, config, reason] of cases) {
    writeFileSync(path.join(repoDir, 'config'), seal(repo.master.encrypt, Buffer.from(JSON.stringify(config))));
    const r = bounded(cli, ['snapshot', 'list'], 60_000, { STRONGBOX_CACHE_DIR: cacheDir });
    assert.equal(r.code, 1, `${what}: ${r.stderr}`);
    assert.match(r.stderr, reason, what);
    assert.match(r.stderr, /cannot be used/, what);
  }
  assert.ok(!existsSync(path.join(root, 'escaped')) && !existsSync(cacheDir), 'nothing was written for a refused config');
  // The config as init wrote it opens again.
  writeFileSync(path.join(repoDir, 'config'), seal(repo.master.encrypt, Buffer.from(JSON.stringify(good))));
  assert.equal(bounded(cli, ['snapshot', 'list']).code, 0);
});
