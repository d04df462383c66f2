import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { describeTree, instanceCli, tmp } from './testing/cli.js';
import { Api, ADMIN_PASSWORD, prepareInstance, startServe } from './testing/server.js';
import { craft, manifest, node } from './testing/forge.js';
import { assertNoConsoleErrors, launch, signedIn } from './testing/browser.js';
import { startMariadb, startPostgres, startRedis } from './testing/servers.js';
import Database from 'better-sqlite3';
import { seal } from '../../src/repo/index.js';
import { loadApplication } from '../../src/spec/index.js';

// Disaster recovery: a full snapshot holds the whole instance, and a fresh home gets all of it back
// with a destination and one restore command — configuration, accounts and data, targets recorded.

function spec(root: string): string {
  const data = path.join(root, 'data');
  mkdirSync(path.join(data, 'sub'), { recursive: true });
  writeFileSync(path.join(data, 'a.txt'), 'alpha\n');
  writeFileSync(path.join(data, 'sub', 'b.txt'), 'bravo\n'.repeat(5000));
  return `apiVersion: strongbox/v1\nkind: Application\nmetadata: { name: docs, version: "1.0" }\nspec:\n  # the documents\n  components:\n    - name: files\n      files: { path: ${data} }\n`;
}

test('recovery: a full snapshot brings back applications, destinations, schedules, settings, users, tokens, pins and the audit log on a fresh home; mapped targets are recorded; the next scheduled snapshot works', async () => {
  const rootA = tmp();
  const localA = await prepareInstance(rootA, { docs: spec(rootA) });
  const a = await startServe(rootA);
  let fullId: string;
  let token: string;
  try {
    const admin = new Api(a.url);
    await admin.login('admin', ADMIN_PASSWORD);
    await admin.ok('POST', '/api/schedules', { name: 'docs-nightly', app: 'docs', cron: 'daily', retention: { keepLast: 3 } });
    await admin.ok('POST', '/api/schedules', { name: 'upkeep', kind: 'maintenance', cron: 'weekly' });
    await admin.ok('PUT', '/api/settings/notifications', { webhooks: [{ url: 'http://127.0.0.1:9/hook', secret: 'hook-secret' }] });
    await admin.ok('POST', '/api/users', { name: 'olivia', role: 'operator', password: 'operator-password', mustChangePassword: false });
    token = (await admin.ok('POST', '/api/tokens', { name: 'ci' })).token as string;
    const first = (await admin.waitJob((await admin.ok('POST', '/api/snapshots', { apps: ['docs'] })).id)).result.snapshot as string;
    await admin.ok('POST', `/api/snapshots/${first}/pin`, { reason: 'release 1.0' });
    const full = await admin.waitJob((await admin.ok('POST', '/api/snapshots', { full: true })).id);
    assert.equal(full.phase, 'completed', JSON.stringify(full.errors));
    fullId = full.result.snapshot as string;
  } finally {
    await a.stop();
  }

  // B: a fresh home, the destination's location and password, one restore.
  const rootB = tmp();
  const b = instanceCli(rootB, 'correct horse battery staple');
  await b.okAsync(['destination', 'add', 'main', path.join(rootA, 'repo')]);
  const target = path.join(rootB, 'docs');
  const dry = JSON.parse(await b.okAsync(['snapshot', 'restore', fullId.slice(0, 8), '--map', `files.path=${target}`, '--dry-run', '--json'])) as { instancePlan: string[] };
  for (const line of ['add application docs', 'add schedule docs-nightly', 'add schedule upkeep', 'add notifications settings', 'add user admin', 'add user olivia', 'add API token ci of admin']) {
    assert.ok(dry.instancePlan.some((l) => l.startsWith(line)), `the plan says "${line}": ${dry.instancePlan.join(' | ')}`);
  }
  const restored = await b.runAsync(['snapshot', 'restore', fullId.slice(0, 8), '--map', `files.path=${target}`]);
  assert.equal(restored.code, 0, restored.stderr + restored.stdout);
  assert.deepEqual(await describeTree(target), await describeTree(path.join(rootA, 'data')));

  // A restore of chosen applications of a full snapshot says that it leaves the instance alone.
  const partial = await b.runAsync(['snapshot', 'restore', fullId.slice(0, 8), '--app', 'docs', '--map', `files.path=${path.join(rootB, 'other')}`, '--dry-run']);
  assert.match(partial.stdout, /instance: not restored: this restore takes chosen applications or components/);

  // The configuration is A's.
  const sameAs = async (args: string[]) => assert.equal(await b.okAsync(args), await localA.okAsync(args), args.join(' '));
  await sameAs(['user', 'list', '--json']);
  await sameAs(['token', 'list', '--json']);
  await sameAs(['license', 'list', '--json']);
  assert.match(await b.okAsync(['audit', '--action', 'user.add']), /olivia/);
  // The application now lives where it was restored; the spec keeps its comments.
  const specB = await b.okAsync(['app', 'show', 'docs']);
  assert.match(specB, new RegExp(`path: ${target.replace(/[/.]/g, '\\$&')}`));
  assert.match(specB, /# the documents/);
  // Pins live in the repository: the pinned snapshot is pinned on B as well.
  const list = JSON.parse(await b.okAsync(['snapshot', 'list', '--json'])) as { id: string }[];
  assert.ok(list.some((s) => s.id === fullId));

  const srvB = await startServe(rootB, { adminPassword: null });
  try {
    // A's accounts work on B: the admin's password, the token.
    const admin = new Api(srvB.url);
    assert.equal((await admin.login('admin', ADMIN_PASSWORD)).status, 200);
    assert.equal((await new Api(srvB.url, token).call('GET', '/api/auth/me')).status, 200);
    const schedules = (await admin.ok('GET', '/api/schedules')) as { name: string; retention: { keepLast?: number } }[];
    assert.deepEqual(schedules.map((s) => s.name).sort(), ['docs-nightly', 'upkeep']);
    assert.equal(schedules.find((s) => s.name === 'docs-nightly')!.retention.keepLast, 3);
    const hooks = (await admin.ok('GET', '/api/settings/notifications')).webhooks as { url: string; secret: string }[];
    assert.deepEqual(hooks.map((h) => [h.url, h.secret]), [['http://127.0.0.1:9/hook', '***']], 'the webhook and its (re-sealed) secret');
    const pinned = ((await admin.ok('GET', '/api/snapshots')) as { id: string; pinned: boolean }[]).filter((s) => s.pinned);
    assert.equal(pinned.length, 1);
    // The next scheduled snapshot backs up the restored directory, into the same repository as A's.
    const run = await admin.ok('POST', '/api/schedules/docs-nightly/run');
    const job = await admin.waitJob(run.id);
    assert.equal(job.phase, 'completed', JSON.stringify(job.errors));
    const made = (await admin.ok('GET', `/api/snapshots/${job.result.snapshot}`)).manifest as { applications: { components: { source: string }[] }[] };
    assert.match(made.applications[0]!.components[0]!.source, new RegExp(target.replace(/[/.]/g, '\\$&')));
  } finally {
    await srvB.stop();
  }
});

test('identity: a snapshot keeps its id through an archive, an upload and a copy; the same snapshot twice is a no-op that says so', async () => {
  const rootA = tmp();
  const a = await prepareInstance(rootA, { docs: spec(rootA) });
  const id = (await a.okAsync(['snapshot', 'create', '--app', 'docs', '-q'])).trim();
  const archive = path.join(tmp(), 'docs.sbx');
  await a.okAsync(['snapshot', 'download', id.slice(0, 8), '-o', archive]);

  // B: another instance with its own repository (another password), the archive uploaded.
  const rootB = tmp();
  const b = instanceCli(rootB, 'another password for b');
  await b.okAsync(['destination', 'add', 'main', path.join(rootB, 'repo'), '--init']);
  const env = { STRONGBOX_ARCHIVE_PASSWORD: 'correct horse battery staple' };
  assert.match(await b.okAsync(['snapshot', 'upload', archive], env), /1 imported/);
  const shown = JSON.parse(await b.okAsync(['snapshot', 'show', id.slice(0, 8), '--json'])) as { id: string; origin: string };
  assert.equal(shown.origin, id, 'found by the id A printed');
  assert.notEqual(shown.id, id, 'its name in B is its own content address');
  const target = path.join(rootB, 'restored');
  await b.okAsync(['snapshot', 'restore', id, '--map', `files.path=${target}`]);
  assert.deepEqual(await describeTree(target), await describeTree(path.join(rootA, 'data')));

  // A second archive of the same snapshot (a fresh archive key) imports nothing.
  const again = path.join(tmp(), 'again.sbx');
  await a.okAsync(['snapshot', 'download', id.slice(0, 8), '-o', again]);
  assert.match(await b.okAsync(['snapshot', 'upload', again], env), /0 imported, 1 already there/);

  // A copy to a second destination keeps the identity too, and a second copy sends nothing.
  await b.okAsync(['destination', 'add', 'offsite', path.join(rootB, 'offsite'), '--init']);
  assert.match(await b.okAsync(['snapshot', 'copy', id.slice(0, 8), '--to', 'offsite']), /1 copied/);
  assert.match(await b.okAsync(['snapshot', 'copy', id.slice(0, 8), '--to', 'offsite']), /0 copied, 1 already there/);
  assert.equal((JSON.parse(await b.okAsync(['snapshot', 'show', id.slice(0, 8), '--json', '--destination', 'offsite'])) as { origin: string }).origin, id);
});

test('destination add --init on a location that holds a repository connects it (recovery) and never initialises over it', async () => {
  const rootA = tmp();
  const a = await prepareInstance(rootA, { docs: spec(rootA) });
  const id = (await a.okAsync(['snapshot', 'create', '--app', 'docs', '-q'])).trim();
  const b = instanceCli(tmp(), 'correct horse battery staple');
  const added = await b.okAsync(['destination', 'add', 'main', path.join(rootA, 'repo'), '--init']);
  assert.match(added, /found an existing repository there \(connected, not re-initialised\)/);
  assert.match(added, /with 1 snapshot\(s\)/);
  assert.ok(JSON.parse(await b.okAsync(['snapshot', 'list', '--json'])).some((s: { id: string }) => s.id === id));
  const wrong = instanceCli(tmp(), 'not the password at all');
  const refused = await wrong.runAsync(['destination', 'add', 'main', path.join(rootA, 'repo'), '--init']);
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /opened the repository with the password/);
});

test('migration: an application snapshot restored against a newer installed spec shows both versions and what differs, then runs the migrate hooks', async () => {
  const root = tmp();
  const cli = await prepareInstance(root, { docs: spec(root) });
  const id = (await cli.okAsync(['snapshot', 'create', '--app', 'docs', '-q'])).trim();
  const marker = path.join(root, 'migrated');
  const extra = path.join(root, 'extra');
  mkdirSync(extra);
  const v2 = `apiVersion: strongbox/v1\nkind: Application\nmetadata: { name: docs, version: "2.0" }\nspec:\n  hooks:\n    migrate: [{ name: upgrade, exec: ["sh", "-c", "echo $STRONGBOX_FROM_VERSION to $STRONGBOX_TO_VERSION > ${marker}"] }]\n  components:\n    - name: files\n      files: { path: ${path.join(root, 'data')} }\n    - name: extra\n      files: { path: ${extra} }\n`;
  writeFileSync(path.join(root, 'v2.yaml'), v2);
  await cli.okAsync(['app', 'add', '-f', path.join(root, 'v2.yaml'), '--replace']);
  const target = path.join(root, 'restored');
  const dry = await cli.runAsync(['snapshot', 'restore', id.slice(0, 8), '--map', `files.path=${target}`, '--dry-run']);
  assert.equal(dry.code, 0, dry.stderr + dry.stdout);
  assert.match(dry.stdout, /version: docs was 1\.0 when the snapshot was made; it restores with the spec of 2\.0, then runs its migrate hooks/);
  assert.match(dry.stdout, /differs: component extra \(files\) is new in 2\.0: the snapshot has no data for it/);
  assert.match(dry.stdout, /will run docs migrate: upgrade: sh -c/);
  const done = await cli.runAsync(['snapshot', 'restore', id.slice(0, 8), '--map', `files.path=${target}`]);
  assert.equal(done.code, 0, done.stderr + done.stdout);
  assert.match(done.stderr, /docs: data of 1\.0 restored with the spec of 2\.0 \(migrate hooks ran\)/);
  assert.equal(readFileSync(marker, 'utf8').trim(), '1.0 to 2.0');
  assert.deepEqual(await describeTree(target), await describeTree(path.join(root, 'data')));
});

test('format 1: a full snapshot as Strongbox 0.1 wrote it (instance state format 1, no origin) restores on this version', async () => {
  // The fixture is written by the test, byte for byte in the 0.1 layout, rather than kept as a binary.
  const oldKey = randomBytes(32);
  const root = tmp();
  const oldData = path.join(root, 'old-data');
  const specText = `apiVersion: strongbox/v1\nkind: Application\nmetadata: { name: legacy, version: "0.9" }\nspec:\n  components:\n    - name: files\n      files: { path: ${oldData} }\n`;
  const archive = path.join(root, 'v01.sbx');
  const repoPassword = 'the old repository password';
  await craft(archive, 'archive password', async (f) => {
    const content = 'written by Strongbox 0.1\n';
    const file = node('a.txt', 'file', { size: content.length, content: [await f.data(content)] });
    const files = node('files', 'dir', { subtree: await f.tree([file]) });
    const app = node('legacy', 'dir', { subtree: await f.tree([files]) });
    const state = {
      format: 1,
      exportedAt: '2026-06-01T00:00:00.000Z',
      applications: [{ name: 'legacy', version: '0.9', specText }],
      destinations: [{ name: 'old', kind: 'local', location: path.join(root, 'old-repo'), password: { type: 'sealed', sealed: seal(oldKey, Buffer.from(repoPassword)).toString('base64') }, isDefault: false }],
    };
    const inst = await Promise.all(
      ([['instance.json', JSON.stringify(state)], ['instance.key', oldKey], ['catalog.sqlite', 'SQLite format 3\u0000']] as const).map(async ([n, d]) => node(n, 'file', { size: Buffer.from(d).length, content: [await f.data(Buffer.from(d))] })),
    );
    const instanceDir = node('_instance', 'dir', { subtree: await f.tree(inst) });
    const component = { name: 'files', kind: 'files', source: oldData, status: 'completed', path: '/legacy/files', bytes: content.length, items: 1, info: {}, newBytes: content.length, warnings: 0, startedAt: '2026-06-01T00:00:00.000Z', durationMs: 1 };
    return manifest(await f.tree([instanceDir, app]), {
      time: '2026-06-01T00:00:00.000Z',
      host: 'old-machine',
      paths: ['/legacy'],
      program: 'strongbox 0.1.0',
      type: 'full',
      status: 'completed',
      strongboxVersion: '0.1.0',
      formatVersion: 1,
      runId: 'r-0001',
      applications: [{ name: 'legacy', version: '0.9', spec: loadApplication(specText), status: 'completed', path: '/legacy', components: [component as never], hooks: [], errors: [], startedAt: '2026-06-01T00:00:00.000Z', durationMs: 1 }],
      instance: { path: '/_instance', files: ['instance.json', 'instance.key', 'catalog.sqlite'] },
    } as never);
  });
  const cli = instanceCli(root, 'correct horse battery staple');
  await cli.okAsync(['destination', 'add', 'main', path.join(root, 'repo'), '--init']);
  assert.match(await cli.okAsync(['snapshot', 'upload', archive], { STRONGBOX_ARCHIVE_PASSWORD: 'archive password' }), /1 imported/);
  const target = path.join(root, 'restored');
  const r = await cli.runAsync(['snapshot', 'restore', 'latest', '--map', `files.path=${target}`]);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.equal(readFileSync(path.join(target, 'a.txt'), 'utf8'), 'written by Strongbox 0.1\n');
  assert.match(await cli.okAsync(['app', 'show', 'legacy']), new RegExp(`path: ${target.replace(/[/.]/g, '\\$&')}`));
  const old = JSON.parse(await cli.okAsync(['destination', 'show', 'old', '--json'])) as { password: string };
  assert.match(old.password, /stored \(encrypted with the instance key\)/, 'its password sealed again with this instance key');
});

test('recovery from a fresh console: connect the destination, pick the full snapshot, map the target, watch it restore', async () => {
  const rootA = tmp();
  const a = await prepareInstance(rootA, { docs: spec(rootA) });
  await a.okAsync(['snapshot', 'create', '--full', '-q']);
  writeFileSync(path.join(rootA, 'data', 'a.txt'), 'alpha, changed\n');
  const full = (await a.okAsync(['snapshot', 'create', '--full', '-q'])).trim();
  const rootB = tmp();
  const browser = await launch();
  let srv: Awaited<ReturnType<typeof startServe>> | undefined;
  try {
    srv = await startServe(rootB);
    const page = await signedIn(browser, srv.url, 'admin', ADMIN_PASSWORD);
    const recover = page.getByRole('region', { name: 'Recover from a destination' });
    await recover.waitFor();
    await recover.getByLabel('Name').fill('main');
    await recover.getByLabel('Location').fill(path.join(rootA, 'repo'));
    await recover.getByLabel(/Repository password/).fill('correct horse battery staple');
    await recover.getByRole('button', { name: 'Add and validate' }).click();
    // Newest first: the latest full snapshot is the first offered.
    await recover.getByRole('link', { name: 'Recover from this snapshot' }).first().click();
    await page.getByRole('heading', { name: `Restore snapshot ${full.slice(0, 8)}` }).waitFor();
    const target = path.join(rootB, 'docs');
    await page.getByLabel(/Restore files to/).fill(target);
    await page.getByRole('button', { name: 'Check (dry run)' }).click();
    await page.getByRole('heading', { name: 'The preflight passed' }).waitFor({ timeout: 30000 });
    assert.match(await page.getByRole('list', { name: 'Instance plan' }).innerText(), /add application docs/);
    await page.getByLabel('Type docs to restore').fill('docs');
    await page.getByRole('button', { name: 'Restore now' }).click();
    await page.getByRole('status').filter({ hasText: 'completed' }).waitFor({ timeout: 60000 });
    assert.deepEqual(await describeTree(target), await describeTree(path.join(rootA, 'data')));
    const api = new Api(srv.url);
    await api.login('admin', ADMIN_PASSWORD);
    assert.deepEqual(((await api.ok('GET', '/api/applications')) as { name: string }[]).map((x) => x.name), ['docs']);
    assert.match((await api.ok('GET', '/api/applications/docs')).specText, new RegExp(`path: ${target.replace(/[/.]/g, '\\$&')}`));

    // The snapshot's page: what changed since the previous one, and its files, one downloadable.
    await page.goto(`${srv.url}/#/snapshot/${full}`);
    const changes = page.getByRole('region', { name: 'Changes' });
    await changes.waitFor();
    assert.match(await changes.innerText(), /M\s+\/docs\/files\/a\.txt/);
    const files = page.getByRole('region', { name: 'Files' });
    await files.getByRole('button', { name: 'docs/' }).click();
    await files.getByRole('button', { name: 'files/' }).click();
    const [download] = await Promise.all([page.waitForEvent('download'), files.getByRole('row', { name: /a\.txt/ }).getByRole('link', { name: 'Download' }).click()]);
    const saved = path.join(tmp(), 'a.txt');
    await download.saveAs(saved);
    assert.equal(readFileSync(saved, 'utf8'), 'alpha, changed\n');
    assertNoConsoleErrors();
  } finally {
    await browser.close();
    await srv?.stop();
  }
});

test('recovery with databases: PostgreSQL + files, MariaDB + Redis + SQLite and a licensed application come back on a fresh home, and are snapshotted there', async () => {
  const pgA = await startPostgres();
  const pgB = await startPostgres();
  const myA = await startMariadb();
  const myB = await startMariadb();
  const redisA = await startRedis();
  try {
    const rootA = tmp();
    pgA.psql('postgres', 'CREATE DATABASE shop');
    pgA.psql('shop', "CREATE TABLE items(id serial PRIMARY KEY, name text); INSERT INTO items(name) SELECT 'item ' || g FROM generate_series(1, 3000) g");
    myA.sql('CREATE DATABASE blog');
    myA.sql("CREATE TABLE posts(id INT PRIMARY KEY, title VARCHAR(100)) ENGINE=InnoDB; INSERT INTO posts SELECT seq, CONCAT('post ', seq) FROM seq_1_to_700;", 'blog');
    for (let i = 0; i < 50; i++) redisA.cli('SET', `session:${i}`, `user ${i}`);
    const sqliteFile = path.join(rootA, 'meta.db');
    const db = new Database(sqliteFile);
    db.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t(v) VALUES ('one'), ('two'), ('three');");
    db.close();
    const uploads = path.join(rootA, 'uploads');
    mkdirSync(uploads);
    writeFileSync(path.join(uploads, 'logo.png'), Buffer.alloc(70_000, 7));

    // A: three applications, one of them licensed by its vendor.
    const a = instanceCli(rootA, 'correct horse battery staple');
    const keyFile = path.join(rootA, 'vendor.key');
    const publicKey = /publicKey: (\S+)/.exec(await a.okAsync(['license', 'keygen', '--private-key', keyFile]))![1]!;
    const app = (name: string, components: string, extra = '') => `apiVersion: strongbox/v1\nkind: Application\nmetadata: { name: ${name}, version: "1.0" }\nspec:\n  components:\n${components}${extra}`;
    await prepareInstance(rootA, {
      shop: app('shop', `    - name: db\n      postgres: { url: "${pgA.url('shop')}" }\n    - name: uploads\n      files: { path: ${uploads} }\n`),
      blog: app('blog', `    - name: posts\n      mysql: { url: "${myA.url('blog')}" }\n    - name: cache\n      redis: { url: "${redisA.url}" }\n    - name: meta\n      sqlite: { path: ${sqliteFile} }\n`),
      pro: spec(rootA).replace('name: docs', 'name: pro') + `  license:\n    publicKey: ${publicKey}\n`,
    });
    const lic = path.join(rootA, 'pro.license');
    await a.okAsync(['license', 'sign', '--private-key', keyFile, '--licensee', 'ACME', '--product', 'pro', '--days', '30', '-o', lic]);
    await a.okAsync(['license', 'install', lic]);
    const full = JSON.parse(await a.okAsync(['snapshot', 'create', '--full', '--json'])) as { id: string; status: string };
    assert.equal(full.status, 'completed');

    // B: a fresh home, the destination, one restore with every target mapped to B's servers and directories.
    const rootB = tmp();
    const b = instanceCli(rootB, 'correct horse battery staple');
    await b.okAsync(['destination', 'add', 'main', path.join(rootA, 'repo'), '--init']);
    const rdbDir = tmp('sb-redis-b-');
    const maps = [`db.url=${pgB.url('shop')}`, `uploads.path=${path.join(rootB, 'uploads')}`, `posts.url=${myB.url('blog')}`, `cache.rdbPath=${rdbDir}/dump.rdb`, `meta.path=${path.join(rootB, 'meta.db')}`, `files.path=${path.join(rootB, 'pro')}`];
    const r = await b.runAsync(['snapshot', 'restore', full.id.slice(0, 8), ...maps.flatMap((m) => ['--map', m])]);
    assert.equal(r.code, 0, r.stderr + r.stdout);

    const rows = (pg: typeof pgA) => pg.psql('shop', "SELECT count(*) || ' ' || md5(string_agg(name, ',' ORDER BY id)) FROM items");
    assert.equal(rows(pgB), rows(pgA));
    assert.equal(myB.sql('CHECKSUM TABLE posts EXTENDED', 'blog').split('\t')[1], myA.sql('CHECKSUM TABLE posts EXTENDED', 'blog').split('\t')[1]);
    const redisB = await startRedis({ dir: rdbDir, dbfilename: 'dump.rdb' });
    try {
      assert.equal(redisB.cli('DBSIZE'), '(integer) 50');
      assert.equal(redisB.cli('GET', 'session:49'), '"user 49"');
    } finally {
      await redisB.stop();
    }
    const copy = new Database(path.join(rootB, 'meta.db'), { readonly: true });
    assert.deepEqual(copy.prepare('SELECT v FROM t ORDER BY id').all(), [{ v: 'one' }, { v: 'two' }, { v: 'three' }]);
    copy.close();
    assert.deepEqual(await describeTree(path.join(rootB, 'uploads')), await describeTree(uploads));
    assert.equal(await b.okAsync(['license', 'list', '--json']), await a.okAsync(['license', 'list', '--json']));

    // B snapshots what it restored: the licensed application (its license came back), and shop from B's server.
    for (const name of ['pro', 'shop', 'blog']) {
      const s = JSON.parse(await b.okAsync(['snapshot', 'create', '--app', name, '--json'])) as { status: string; applications: { components: { source: string }[] }[] };
      assert.equal(s.status, 'completed', name);
      if (name === 'shop') assert.match(s.applications[0]!.components[0]!.source, new RegExp(`:${new URL(pgB.url('shop')).port}/shop`));
    }
  } finally {
    pgA.stop();
    pgB.stop();
    myA.stop();
    myB.stop();
    await redisA.stop();
  }
});
