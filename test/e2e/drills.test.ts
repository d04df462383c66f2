import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { BIN, tmp } from './testing/cli.js';
import { Api, ADMIN_PASSWORD, prepareInstance, startServe } from './testing/server.js';
import { assertNoConsoleErrors, launch, signedIn } from './testing/browser.js';
import { startPostgres, startRedis } from './testing/servers.js';
import { craft, damageFirstChunk, manifest, node } from './testing/forge.js';

// Restore drills (docs/DRILLS.md): a snapshot restored into throwaway targets, checked against what
// the backup recorded, timed, and removed whatever happens.

interface Drill {
  id: string;
  status: string;
  recoveryMs: number;
  recoveryPointSeconds: number;
  components: { app: string; component: string; kind: string; status: string; reason?: string; restoreMs: number; checks: { name: string; ok: boolean; expected?: string; actual?: string }[] }[];
}

async function app(root: string) {
  const pg = await startPostgres();
  const redis = await startRedis();
  pg.psql('postgres', 'CREATE DATABASE notes');
  pg.psql('notes', "CREATE TABLE notes(id serial PRIMARY KEY, body text); INSERT INTO notes(body) SELECT 'note ' || g FROM generate_series(1, 4321) g; CREATE TABLE tags(name text)");
  for (let i = 0; i < 7; i++) redis.cli('SET', `session:${i}`, 'x');
  const uploads = path.join(root, 'uploads');
  mkdirSync(path.join(uploads, 'sub'), { recursive: true });
  writeFileSync(path.join(uploads, 'a.txt'), 'attachment\n');
  writeFileSync(path.join(uploads, 'sub', 'big.bin'), Buffer.alloc(400_000, 3));
  const sqlite = path.join(root, 'search.db');
  const db = new Database(sqlite);
  db.exec("CREATE TABLE idx(term TEXT); INSERT INTO idx VALUES ('a'), ('b'), ('c');");
  db.close();
  const spec = `apiVersion: strongbox/v1\nkind: Application\nmetadata: { name: notes, version: "1.4" }\nspec:\n  components:\n    - name: db\n      postgres: { url: "${pg.url('notes')}" }\n    - name: uploads\n      files: { path: ${uploads} }\n    - name: sessions\n      redis: { url: "${redis.url}" }\n    - name: search\n      sqlite: { path: ${sqlite} }\n  hooks:\n    preRestore:\n      - { name: never-in-a-drill, exec: ["touch", "${path.join(root, 'HOOK-RAN')}"] }\n`;
  return { pg, redis, spec };
}

/** Processes whose command line mentions `text` (a drill's throwaway servers). */
function processesWith(text: string): string[] {
  return spawnSync('pgrep', ['-af', text], { encoding: 'utf8' }).stdout.split('\n').filter((l) => l && !l.includes('pgrep'));
}

/** The process groups a running drill recorded (its throwaway servers), once there are some. */
async function serversOf(drills: string): Promise<string[]> {
  for (let i = 0; i < 300; i++) {
    await new Promise((r) => setTimeout(r, 100));
    const found = existsSync(drills) ? spawnSync('find', [drills, '-name', 'pids'], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean) : [];
    const pids = found.flatMap((f) => readFileSync(f, 'utf8').split('\n').filter(Boolean));
    if (pids.length) return pids;
  }
  throw new Error('the drill started no server within 30 s');
}

/** An archive of one application snapshot with one component whose record says what the test needs (its name, its size); the stored file holds 5 bytes. */
async function craftOneComponent(archive: string, c: { app: string; dir: string; name: string; kind: string; artifact: string; bytes: number }): Promise<void> {
  await craft(archive, 'archive password', async (f) => {
    const file = node(c.artifact, 'file', { size: 5, content: [await f.data('hello')] });
    const comp = node(c.dir, 'dir', { subtree: await f.tree([file]) });
    const app = node(c.app, 'dir', { subtree: await f.tree([comp]) });
    const at = '2026-06-01T00:00:00.000Z';
    const component = { name: c.name, kind: c.kind, source: '/x', status: 'completed', path: `/${c.app}/${c.dir}`, artifact: c.artifact, bytes: c.bytes, items: 1, info: {}, newBytes: 5, warnings: 0, startedAt: at, durationMs: 1 };
    return manifest(await f.tree([app]), { type: 'application', status: 'completed', formatVersion: 1, strongboxVersion: '0.1.0', paths: [`/${c.app}`], applications: [{ name: c.app, version: '1', spec: {}, status: 'completed', path: `/${c.app}`, components: [component as never], hooks: [], errors: [], startedAt: at, durationMs: 1 }] } as never);
  });
}

/** What drills of these ids left in the system's temporary directory (other tests' drills may run at the same time). */
const leftovers = (ids: string[]) => readdirSync(tmpdir()).filter((n) => n.startsWith('strongbox-drill-') && ids.some((id) => n.startsWith(`strongbox-drill-${id}-`)));

test('a drill restores every component into throwaway targets, checks the rows, keys and files the backup recorded, times it, records it in the repository and removes everything; the application is not touched', async () => {
  const root = tmp();
  const { pg, redis, spec } = await app(root);
  try {
    const cli = await prepareInstance(root, { notes: spec });
    const snap = JSON.parse(await cli.okAsync(['snapshot', 'create', '--app', 'notes', '--json'])) as { id: string; applications: { components: { name: string; info: Record<string, unknown> }[] }[] };
    assert.equal(snap.applications[0]!.components.find((c) => c.name === 'db')!.info['rows.public.notes'], 4321, 'rows counted in the dump\'s snapshot');
    const run = await cli.runAsync(['drill', 'run', '--app', 'notes', '--json']);
    assert.equal(run.code, 0, run.stderr);
    const d = JSON.parse(run.stdout) as Drill;
    assert.equal(d.status, 'passed');
    assert.deepEqual(d.components.map((c) => `${c.component}:${c.status}`).sort(), ['db:passed', 'search:passed', 'sessions:passed', 'uploads:passed']);
    const db = d.components.find((c) => c.component === 'db')!;
    assert.deepEqual(db.checks.map((c) => [c.name, c.ok, c.expected, c.actual]), [['rows in public.notes', true, '4321', '4321'], ['rows in public.tags', true, '0', '0']]);
    assert.ok(db.restoreMs > 0 && d.recoveryMs >= db.restoreMs);
    assert.ok(d.components.find((c) => c.component === 'search')!.checks.some((c) => c.name === 'PRAGMA integrity_check' && c.ok));
    assert.deepEqual(d.components.find((c) => c.component === 'sessions')!.checks.filter((c) => c.name.startsWith('keys')).map((c) => [c.name, c.ok, c.actual]), [['keys db0', true, '7']]);
    // Nothing of the application was touched, no hook ran, nothing is left.
    assert.equal(existsSync(path.join(root, 'HOOK-RAN')), false);
    assert.equal(pg.psql('notes', 'SELECT count(*) FROM notes'), '4321');
    assert.deepEqual(leftovers([d.id]), []);
    assert.deepEqual(readdirSync(path.join(root, 'home', 'drills')), []);
    const list = JSON.parse(await cli.okAsync(['drill', 'list', '--json'])) as Drill[];
    assert.deepEqual(list.map((x) => x.id), [d.id]);
    assert.match(cli.ok(['drill', 'show', d.id]), /notes\/db \(postgres\): passed/);

    // Every listing says it: the CLI, and the console's snapshot list and dashboard.
    assert.match(cli.ok(['snapshot', 'list']), new RegExp(`${snap.id.slice(0, 8)} .* yes ${new Date().toISOString().slice(0, 10)}`));
    assert.match(cli.ok(['snapshot', 'show', snap.id]), new RegExp(`Restore drill: verified restorable on .* \\(drill ${d.id}\\)`));
    const srv = await startServe(root);
    const browser = await launch();
    try {
      const page = await signedIn(browser, srv.url, 'admin', ADMIN_PASSWORD);
      assert.match(await page.getByLabel('Recovery').innerText({ timeout: 20000 }), new RegExp(`Verified restorable: ${snap.id.slice(0, 8)} .* recovery time \\d+\\.\\d s \\(measured\\)`));
      await page.goto(`${srv.url}/#/snapshots`);
      await page.getByRole('row', { name: new RegExp(snap.id.slice(0, 8)) }).getByText(/verified restorable on/).waitFor({ timeout: 20000 });
      assertNoConsoleErrors();
      // A weekly drill schedule: its run is a drill job of the latest snapshot, recorded like any drill.
      const api = new Api(srv.url);
      await api.login('admin', ADMIN_PASSWORD);
      await api.ok('POST', '/api/schedules', { name: 'notes-drill', kind: 'drill', app: 'notes', cron: 'weekly' });
      const fired = await api.ok('POST', '/api/schedules/notes-drill/run');
      const job = await api.waitJob(fired.id, 120000);
      assert.equal(job.kind, 'drill');
      assert.equal(job.phase, 'completed', JSON.stringify(job.errors));
      assert.equal(job.result.status, 'passed');
      assert.equal(((await api.ok('GET', '/api/drills')) as Drill[]).length, 2);

      // From the console: the dashboard's button starts a drill whose job page follows it live, component by component.
      await page.goto(`${srv.url}/#/`);
      await page.getByLabel('Application notes').getByRole('button', { name: 'Run restore drill' }).click();
      await page.getByRole('status').filter({ hasText: 'running' }).waitFor({ timeout: 15000 });
      const components = page.getByRole('table', { name: 'Components' });
      await components.getByRole('row', { name: /notes\/db/ }).waitFor({ timeout: 15000 });
      await page.getByRole('status').filter({ hasText: 'completed' }).waitFor({ timeout: 120000 });
      for (const c of ['db', 'uploads', 'sessions', 'search']) assert.match(await components.getByRole('row', { name: new RegExp(`notes/${c}`) }).innerText(), /completed/);
      assert.match(await page.getByLabel('Job log').innerText(), /drill [0-9a-f]{12}: passed/);
      await page.getByRole('link', { name: snap.id.slice(0, 8) }).click();
      const drills = page.getByLabel('Restore drills');
      await drills.waitFor({ timeout: 20000 });
      assert.equal((await drills.innerText()).match(/recovery time [\d.]+ s \(measured\) · drill [0-9a-f]{12}/g)?.length, 3, 'the three drills of the snapshot');
      assert.match(await drills.innerText(), /notes\/db \(postgres\): passed in [\d.]+ s/);
      // The dashboard's figures: the objective of the drill schedule (twice a week) and the status.
      await page.goto(`${srv.url}/#/`);
      assert.match(await page.getByLabel('Recovery').innerText({ timeout: 20000 }), /objective 14 days, schedule notes-drill/);
      const status = (await api.ok('GET', '/api/verification')) as { app: string; overdue: boolean; objectiveSeconds: number; verified: { snapshot: string } }[];
      assert.deepEqual(status.map((v) => [v.app, v.overdue, v.objectiveSeconds, v.verified.snapshot]), [['notes', false, 14 * 86400, snap.id]]);
      assertNoConsoleErrors();
    } finally {
      await browser.close();
      await srv.stop();
    }

    // The application's own check, from the spec installed here: a query that returns no rows fails the drill with the query and its result.
    const withCheck = path.join(root, 'checked.yaml');
    writeFileSync(withCheck, spec.replace(`postgres: { url: "${pg.url('notes')}" }`, `postgres: { url: "${pg.url('notes')}" }\n      checks:\n        - { name: notes, sql: "SELECT count(*) FROM notes", expect: ">= 1000" }\n        - { name: welcome note, sql: "SELECT id FROM notes WHERE body = 'welcome'", expect: rows }`));
    await cli.okAsync(['app', 'add', '-f', withCheck, '--replace']);
    const checked = await cli.runAsync(['drill', 'run', snap.id, '--json']);
    assert.equal(checked.code, 1, checked.stderr);
    const c = JSON.parse(checked.stdout) as Drill;
    const dbc = c.components.find((x) => x.component === 'db')!;
    assert.equal(dbc.status, 'failed');
    assert.deepEqual(dbc.checks.filter((x) => x.name.startsWith('notes') || x.name.startsWith('welcome')).map((x) => [x.name, x.ok, x.actual]), [
      ['notes: SELECT count(*) FROM notes (expect >= 1000)', true, '4321'],
      ["welcome note: SELECT id FROM notes WHERE body = 'welcome' (expect rows)", false, 'no rows'],
    ]);
    assert.match(dbc.reason!, /welcome note: SELECT id FROM notes WHERE body = 'welcome' \(expect rows\): expected rows, found no rows/);

    // A damaged pack: the drill fails, naming the component, the pack and the files.
    await damageFirstChunk(path.join(root, 'repo'), 'correct horse battery staple', snap.id, '/notes/db/database.pgdump');
    const bad = await cli.runAsync(['drill', 'run', snap.id, '--json']);
    assert.equal(bad.code, 1, bad.stderr);
    const failed = JSON.parse(bad.stdout) as Drill;
    assert.equal(failed.status, 'failed');
    const dbFail = failed.components.find((c) => c.component === 'db')!;
    assert.equal(dbFail.status, 'failed');
    assert.match(dbFail.reason!, /\/notes\/db\/database\.pgdump: .*blob [0-9a-f]{16} in pack [0-9a-f]{16} failed authentication/);
    assert.deepEqual(leftovers([c.id, failed.id]), []);
  } finally {
    pg.stop();
    await redis.stop();
  }
});

test('a drill killed with SIGKILL leaves its throwaway server running only until the next start, which ends it and removes its files', async () => {
  const root = tmp();
  const { pg, redis, spec } = await app(root);
  try {
    const cli = await prepareInstance(root, { notes: spec });
    await cli.okAsync(['snapshot', 'create', '--app', 'notes', '-q']);
    const child = spawn(process.execPath, [BIN, 'drill', 'run', '--app', 'notes'], { env: cli.env(), stdio: 'ignore' });
    const drills = path.join(root, 'home', 'drills');
    // Wait until the drill's PostgreSQL server runs, then kill the drill outright.
    const pids = await serversOf(drills);
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const killed = readdirSync(drills);
    // A zombie has ended: only its reaping by init (whose pace is not ours) is left.
    const alive = (pid: string) => spawnSync('kill', ['-0', pid]).status === 0 && !/^Z/.test(spawnSync('ps', ['-o', 'stat=', '-p', pid], { encoding: 'utf8' }).stdout.trim());
    assert.ok(pids.some(alive), 'the killed drill left its server running');
    assert.ok(killed.length > 0, 'and its files');
    // As root, PostgreSQL's data directory is made in the system's temporary directory, named with the drill's id.
    if (process.getuid?.() === 0) assert.equal(leftovers(killed).length, 1, 'its PostgreSQL data directory, named with the drill');
    // The next start finds them.
    const next = await cli.runAsync(['drill', 'run', '--app', 'notes']);
    assert.equal(next.code, 0, next.stderr);
    assert.match(next.stderr, /removed what an earlier drill left/);
    for (const pid of pids) assert.equal(alive(pid), false, `process ${pid} ended`);
    assert.deepEqual(leftovers(killed), []);
    assert.deepEqual(readdirSync(drills), []);
    for (const id of killed) assert.deepEqual(processesWith(path.join(tmpdir(), `strongbox-drill-${id}-`)), []);
  } finally {
    pg.stop();
    await redis.stop();
  }
});

test('a drill cancelled midway through the server stops its throwaway servers and removes everything at once', async () => {
  const root = tmp();
  const { pg, redis, spec } = await app(root);
  const srv = await (async () => {
    await prepareInstance(root, { notes: spec });
    return startServe(root);
  })();
  try {
    const api = new Api(srv.url);
    await api.login('admin', ADMIN_PASSWORD);
    await api.waitJob((await api.ok('POST', '/api/snapshots', { apps: ['notes'] })).id);
    const job = await api.ok('POST', '/api/drills', { apps: ['notes'] });
    const drills = path.join(root, 'home', 'drills');
    const pids = await serversOf(drills);
    await api.ok('POST', `/api/jobs/${job.id}/cancel`);
    const done = await api.waitJob(job.id, 60000);
    assert.equal(done.phase, 'canceled');
    // A zombie has ended: only its reaping by init (whose pace is not ours) is left.
    const alive = (pid: string) => spawnSync('kill', ['-0', pid]).status === 0 && !/^Z/.test(spawnSync('ps', ['-o', 'stat=', '-p', pid], { encoding: 'utf8' }).stdout.trim());
    for (const pid of pids) assert.equal(alive(pid), false, `process ${pid} ended`);
    assert.deepEqual(readdirSync(drills), []);
    assert.deepEqual(leftovers([(job.params as { drill: string }).drill]), []);
  } finally {
    await srv.stop();
    pg.stop();
    await redis.stop();
  }
});

test('a crafted snapshot whose component name climbs out of the drill directory is refused before anything is made', async () => {
  const root = tmp();
  const archive = path.join(root, 'evil.sbx');
  await craftOneComponent(archive, { app: 'evil', dir: 'x', name: '../../../../escaped', kind: 'sqlite', artifact: 'database.sqlite', bytes: 5 });
  const cli = await prepareInstance(root);
  await cli.okAsync(['snapshot', 'upload', archive], { STRONGBOX_ARCHIVE_PASSWORD: 'archive password' });
  const r = await cli.runAsync(['drill', 'run', 'latest']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /invalid name; it was not written by Strongbox/);
  assert.equal(existsSync(path.join(root, 'home', 'escaped')), false);
  assert.equal(existsSync(path.join(root, 'escaped')), false);
  assert.deepEqual(existsSync(path.join(root, 'home', 'drills')) ? readdirSync(path.join(root, 'home', 'drills')) : [], []);
});

test('a drill that cannot fit on this disk is refused before anything is made; one past its time limit fails, saying where it stopped', async () => {
  const root = tmp();
  // A snapshot that says its database dump is 40 PiB: the drill is refused at once, naming the sizes and the ways out.
  const archive = path.join(root, 'huge.sbx');
  await craftOneComponent(archive, { app: 'huge', dir: 'db', name: 'db', kind: 'postgres', artifact: 'database.pgdump', bytes: 40 * 2 ** 50 });
  const uploads = path.join(root, 'uploads');
  mkdirSync(uploads);
  writeFileSync(path.join(uploads, 'a.txt'), 'a');
  const slow = `apiVersion: strongbox/v1\nkind: Application\nmetadata: { name: slow, version: "1" }\nspec:\n  components:\n    - name: files\n      files: { path: ${uploads} }\n      checks: [{ name: takes its time, command: [sleep, "31.7"] }]\n    - name: more\n      files: { path: ${uploads} }\n`;
  const cli = await prepareInstance(root, { slow });
  await cli.okAsync(['snapshot', 'upload', archive], { STRONGBOX_ARCHIVE_PASSWORD: 'archive password' });
  const refused = await cli.runAsync(['drill', 'run', 'latest']);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /The drill needs about 120\.\d PiB at .*drills .*which has [\d.]+ [KMGT]iB free\. Free some space, drill fewer applications \(--app\), or add --no-space-check/);
  assert.deepEqual(readdirSync(path.join(root, 'home', 'drills')), []);

  // The spec's check sleeps 31.7 s; the drill's limit is 2 s: it fails, the check and the component after it named.
  await cli.okAsync(['snapshot', 'create', '--app', 'slow']);
  const t0 = performance.now();
  const late = await cli.runAsync(['drill', 'run', '--app', 'slow', '--timeout', '2s', '--json']);
  assert.ok(performance.now() - t0 < 20000, 'the check was stopped at the limit');
  assert.equal(late.code, 1, late.stderr);
  const d = JSON.parse(late.stdout) as Drill;
  assert.equal(d.status, 'failed');
  assert.deepEqual(d.components.map((c) => [c.component, c.status, c.reason]), [
    ['files', 'failed', "the drill's time limit (2s) ran out before this component was drilled to the end"],
    ['more', 'failed', "the drill's time limit (2s) ran out before this component was drilled to the end"],
  ]);
  // Its process group was killed; the kernel may take a moment to reap it (other tests' sleeps have other lengths).
  for (let i = 0; i < 40 && processesWith('^sleep 31\\.7$').length > 0; i++) await new Promise((r) => setTimeout(r, 50));
  assert.equal(processesWith('^sleep 31\\.7$').length, 0, 'the check command was ended');
  assert.deepEqual(readdirSync(path.join(root, 'home', 'drills')), []);
});

test('the snapshot\'s own verify command and checks never run in a drill, only the installed spec\'s', async () => {
  const root = tmp();
  const data = path.join(root, 'data.txt');
  writeFileSync(data, 'index v1\n');
  const ran = (what: string) => path.join(root, `RAN-${what}`);
  const spec = (extra: string, checks: string) =>
    `apiVersion: strongbox/v1\nkind: Application\nmetadata: { name: idx, version: "1" }\nspec:\n  components:\n    - name: index\n${checks}      command:\n        backup: [cat, ${data}]\n        restore: [sh, -c, "cat > ${data}"]\n${extra}`;
  const cli = await prepareInstance(root, { idx: spec(`        verify: [touch, ${ran('snapshot-verify')}]\n`, `      checks: [{ command: [touch, ${ran('snapshot-check')}] }]\n`) });
  await cli.okAsync(['snapshot', 'create', '--app', 'idx']);
  // The spec installed now has other commands: they run, those the snapshot carries do not.
  writeFileSync(path.join(root, 'idx.yaml'), spec(`        verify: [grep, -q, "index v1"]\n`, `      checks: [{ command: [sh, -c, "touch ${ran('installed-check')}; test -s \\"$STRONGBOX_DRILL_FILE\\""] }]\n`));
  await cli.okAsync(['app', 'add', '-f', path.join(root, 'idx.yaml'), '--replace']);
  rmSync(ran('snapshot-verify'), { force: true });
  rmSync(ran('snapshot-check'), { force: true });
  const r = await cli.runAsync(['drill', 'run', '--app', 'idx', '--json']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const d = JSON.parse(r.stdout) as Drill;
  assert.deepEqual(d.components[0]!.checks.map((c) => [c.name.split(':')[0], c.ok]), [['verify', true], ['check', true]]);
  assert.equal(existsSync(ran('snapshot-verify')), false);
  assert.equal(existsSync(ran('snapshot-check')), false);
  assert.equal(existsSync(ran('installed-check')), true);
  assert.equal(readFileSync(data, 'utf8'), 'index v1\n', 'the application\'s restore command did not run');
});
