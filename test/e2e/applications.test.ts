import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, writeFileSync, mkdirSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { describeTree, instanceCli, listFiles, tmp, type Cli } from './testing/cli.js';
import { startMariadb, startPostgres, startRedis, type PgServer } from './testing/servers.js';
import { damageFirstChunk } from './testing/forge.js';

/** A fresh instance with one destination (a new repository); returns the CLI and the root. */
function freshInstance(): { cli: Cli; root: string } {
  const root = tmp('sb-app-');
  const cli = instanceCli(root, 'app-test-password');
  cli.ok(['destination', 'add', 'main', path.join(root, 'repo'), '--init', '--password-from-env', 'STRONGBOX_PASSWORD']);
  return { cli, root };
}

function spec(name: string, components: string, hooks = ''): string {
  return `apiVersion: strongbox/v1\nkind: Application\nmetadata: { name: ${name}, version: 2.0.1 }\nspec:\n  components:\n${components}${hooks ? `  hooks:\n${hooks}` : ''}`;
}

function addApp(cli: Cli, root: string, text: string): void {
  const file = path.join(root, `spec-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, text);
  cli.ok(['app', 'add', '-f', file, '--replace']);
}

interface AppSnap {
  id: string;
  status: string;
  applications: { name: string; status: string; errors: string[]; components: { name: string; status: string; error?: string; sha256?: string; bytes: number }[]; hooks: { name: string; phase: string; status: string; error?: string; stdout: string }[] }[];
}

/** Row-level checksums of every user table: count and md5 of the rows in a stable order. */
function pgChecksums(pg: PgServer, db: string): string {
  const tables = pg.psql(db, "SELECT format('%I.%I', schemaname, tablename) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog','information_schema') ORDER BY 1").split('\n').filter(Boolean);
  return tables.map((t) => `${t}: ${pg.psql(db, `SELECT count(*) || ' ' || coalesce(md5(string_agg(x::text, E'\\n' ORDER BY x::text)), '-') FROM ${t} x`)}`).join('\n');
}

test('postgres: back up server A, restore into a clean server B (and a new database on A); row checksums match; roles and ownership handled', async () => {
  const a = await startPostgres();
  const b = await startPostgres();
  try {
    a.psql('postgres', 'CREATE DATABASE shop');
    a.psql('postgres', 'CREATE ROLE shop_owner LOGIN');
    a.psql(
      'shop',
      `CREATE TABLE items(id serial PRIMARY KEY, name text NOT NULL, price numeric(10,2), tags jsonb, img bytea, at timestamptz DEFAULT now());
       INSERT INTO items(name, price, tags, img) SELECT 'item ' || g, g * 1.5, jsonb_build_object('g', g), decode(md5(g::text), 'hex') FROM generate_series(1, 300000) g;
       CREATE INDEX items_name ON items(name);
       CREATE VIEW cheap AS SELECT * FROM items WHERE price < 10;
       CREATE FUNCTION total() RETURNS numeric LANGUAGE sql AS 'SELECT sum(price) FROM items';
       CREATE SCHEMA audit; CREATE TABLE audit.log(id bigint, what text); INSERT INTO audit.log SELECT g, repeat('x', g % 50) FROM generate_series(1, 3000) g;
       ALTER TABLE audit.log OWNER TO shop_owner;`,
    );
    const before = pgChecksums(a, 'shop');
    const { cli, root } = freshInstance();
    addApp(cli, root, spec('shop', `    - name: db\n      postgres: { url: "${a.url('shop')}" }\n`));
    const snap = cli.json<AppSnap>(['snapshot', 'create', '--app', 'shop']);
    assert.equal(snap.status, 'completed');
    assert.match(snap.applications[0]!.components[0]!.sha256 ?? '', /^[0-9a-f]{64}$/);

    // B is clean and has no shop_owner role: the default restore gives ownership to the restoring user.
    const dry = cli.json<{ ok: boolean; plan: { preflight: { plan: string[]; problems: string[] } }[] }>(['snapshot', 'restore', snap.id, '--map', `db.url=${b.url('shop')}`, '--dry-run']);
    assert.equal(dry.ok, true);
    assert.match(dry.plan[0]!.preflight.plan.join(), /create database "shop"/);
    assert.equal(b.psql('postgres', "SELECT count(*) FROM pg_database WHERE datname = 'shop'"), '0', 'a dry run changes nothing');
    cli.ok(['snapshot', 'restore', snap.id, '--map', `db.url=${b.url('shop')}`]);
    assert.equal(pgChecksums(b, 'shop'), before);
    assert.equal(b.psql('shop', 'SELECT total()'), a.psql('shop', 'SELECT total()'));
    assert.equal(b.psql('shop', 'SELECT count(*) FROM cheap'), a.psql('shop', 'SELECT count(*) FROM cheap'));

    // A second copy next to the original, keeping ownership (the role exists on A).
    cli.ok(['snapshot', 'restore', snap.id, '--map', `db.url=${a.url('shop_copy')}`, '--map', 'db.keepOwnership=true']);
    assert.equal(pgChecksums(a, 'shop_copy'), before);
    assert.equal(a.psql('shop_copy', "SELECT tableowner FROM pg_tables WHERE tablename = 'log'"), 'shop_owner');

    // Restoring over a non-empty database is refused with what is in the way, and changes nothing.
    a.psql('shop', "INSERT INTO items(name) VALUES ('after the snapshot')");
    const changed = pgChecksums(a, 'shop');
    const refused = cli.run(['snapshot', 'restore', snap.id]);
    assert.equal(refused.code, 4, refused.stderr);
    assert.match(refused.stderr, /database "shop" is not empty \(\d+ relation\(s\): audit\.log, /);
    assert.match(refused.stderr, /Nothing was changed/);
    assert.equal(pgChecksums(a, 'shop'), changed);
    // --force replaces the snapshot's objects.
    cli.ok(['snapshot', 'restore', snap.id, '--force']);
    assert.equal(pgChecksums(a, 'shop'), before);

    // Incremental: 1 % of the rows (a range of ids) change; the second snapshot adds far less than the dump's size.
    a.psql('shop', "UPDATE items SET name = name || ' v2' WHERE id BETWEEN 150000 AND 153000");
    const second = cli.json<AppSnap & { summary: { newBytes: number; bytes: number } }>(['snapshot', 'create', '--app', 'shop']);
    // A compressed dump would add all of it again; here only the chunks around the changed rows are new.
    assert.ok(second.summary.newBytes < second.summary.bytes * 0.4, `second snapshot added ${second.summary.newBytes} of ${second.summary.bytes}`);

    // A dump from a newer pg_dump than this pg_restore can read is refused by the preflight, naming both.
    const { openRepository } = await import('../../src/app/index.js');
    const repo = await openRepository(path.join(root, 'repo'), 'app-test-password');
    const m = await repo.loadJSON<{ applications: { components: { info: Record<string, unknown> }[] }[] }>('snapshots', snap.id);
    Object.assign(m.applications[0]!.components[0]!.info, { tool: 'pg_dump (PostgreSQL) 99.1', toolMajor: 99 });
    const newer = await repo.saveJSON('snapshots', m);
    await repo.close();
    const tooOld = cli.run(['snapshot', 'restore', newer, '--map', `db.url=${b.url('newer')}`, '--dry-run']);
    assert.equal(tooOld.code, 4);
    assert.match(tooOld.stdout, /pg_restore \(PostgreSQL\) 15\.\d+.* cannot read a dump made by pg_dump \(PostgreSQL\) 99\.1; install PostgreSQL client 99 or newer/);
  } finally {
    a.stop();
    b.stop();
  }
});

test('postgres: wrong credentials and an unreachable server fail the component with the reason; the password never lands in metadata, logs or the catalog', async () => {
  const pg = await startPostgres({ passwordFor: { user: 'app', password: 'pg-SECRET-marker' } });
  try {
    pg.psql('postgres', 'CREATE DATABASE appdb OWNER app');
    const { cli, root } = freshInstance();
    const dataDir = path.join(root, 'data');
    mkdirSync(dataDir);
    writeFileSync(path.join(dataDir, 'f.txt'), 'files still get saved');
    addApp(
      cli,
      root,
      spec(
        'app',
        `    - name: db\n      postgres: { url: "${pg.url('appdb', 'app')}", passwordFrom: { env: APP_DB_PASSWORD } }\n    - name: files\n      files: { path: ${dataDir} }\n`,
        // A careless hook that prints its environment and the database password.
        `    preBackup: [{ name: debug, exec: ["sh", "-c", "env; echo db password is $APP_DB_PASSWORD"] }]\n`,
      ),
    );
    const wrong = cli.run(['snapshot', 'create', '--app', 'app', '--json'], { APP_DB_PASSWORD: 'wrong' });
    assert.equal(wrong.code, 3, wrong.stderr);
    const w = JSON.parse(wrong.stdout) as AppSnap;
    assert.equal(w.status, 'partially_failed');
    assert.match(w.applications[0]!.components[0]!.error ?? '', /password authentication failed/);
    assert.equal(w.applications[0]!.components[1]!.status, 'completed');

    const unset = cli.run(['snapshot', 'create', '--app', 'app', '--json']);
    assert.equal(unset.code, 3);
    assert.match(unset.stdout, /environment variable APP_DB_PASSWORD, which is not set/);

    const good = cli.json<AppSnap>(['snapshot', 'create', '--app', 'app'], { APP_DB_PASSWORD: 'pg-SECRET-marker', AWS_SECRET_ACCESS_KEY: 'aws-SECRET-marker', STRONGBOX_ADMIN_PASSWORD: 'admin-SECRET-marker' });
    assert.equal(good.status, 'completed');
    const everything = [cli.ok(['snapshot', 'show', good.id, '--json']), cli.ok(['snapshot', 'logs', good.id]), cli.ok(['snapshot', 'list', '--json'])].join('\n');
    assert.doesNotMatch(everything, /pg-SECRET-marker/);
    // Hooks never see the repository password, and what they print of other secrets is masked.
    // Hooks start from an allow-listed environment: they never see the repository password, the
    // database password of another component, Strongbox's own variables or the object stores' keys.
    assert.doesNotMatch(everything, /app-test-password|STRONGBOX_PASSWORD=|aws-SECRET-marker|admin-SECRET-marker|AWS_SECRET_ACCESS_KEY|APP_DB_PASSWORD=/);
    assert.match(cli.ok(['snapshot', 'logs', good.id]), /stdout: PATH=/);
    assert.match(cli.ok(['snapshot', 'logs', good.id]), /db password is\n/);
    for (const f of await listFiles(path.join(root, 'home'))) assert.doesNotMatch(readFileSync(path.join(root, 'home', f)).toString('latin1'), /pg-SECRET-marker/, f);

    pg.stop();
    const down = cli.run(['snapshot', 'create', '--app', 'app', '--json'], { APP_DB_PASSWORD: 'pg-SECRET-marker' });
    assert.equal(down.code, 3);
    assert.match((JSON.parse(down.stdout) as AppSnap).applications[0]!.components[0]!.error ?? '', /Cannot connect to PostgreSQL at postgres:\/\/app@127\.0\.0\.1:\d+\/appdb/);
  } finally {
    pg.stop();
  }
});

test('mysql: back up MariaDB A with a single transaction, restore into a clean server B; table checksums match', async () => {
  const a = await startMariadb();
  const b = await startMariadb();
  try {
    a.sql('CREATE DATABASE blog');
    a.sql(
      `CREATE TABLE posts(id INT AUTO_INCREMENT PRIMARY KEY, title VARCHAR(200), body TEXT, data BLOB, at DATETIME) ENGINE=InnoDB;
       INSERT INTO posts(title, body, data, at) SELECT CONCAT('post ', seq), REPEAT('lorem ', seq % 40), UNHEX(MD5(seq)), '2026-01-01 00:00:00' + INTERVAL seq MINUTE FROM seq_1_to_5000;
       CREATE VIEW recent AS SELECT id, title FROM posts WHERE id > 4900;
       CREATE TRIGGER posts_ins BEFORE INSERT ON posts FOR EACH ROW SET NEW.title = TRIM(NEW.title);
       CREATE TABLE odd(s TEXT); INSERT INTO odd VALUES ('a),(b'), ('it''s; \\\\ (x'), (NULL);
       CREATE TABLE empty(x INT);
       CREATE TRIGGER odd_log AFTER INSERT ON odd FOR EACH ROW INSERT INTO empty VALUES (1),(2);`,
      'blog',
    );
    const sums = (s: typeof a) => s.sql('CHECKSUM TABLE posts EXTENDED', 'blog').split('\t')[1] + ' ' + s.sql('SELECT COUNT(*) FROM recent', 'blog');
    const before = sums(a);
    const { cli, root } = freshInstance();
    addApp(cli, root, spec('blog', `    - name: db\n      mysql: { url: "${a.url('blog')}" }\n`));
    const snap = cli.json<AppSnap>(['snapshot', 'create', '--app', 'blog']);
    assert.equal(snap.status, 'completed');
    // Rows per table counted in the dump itself as it passes (a trigger's INSERT and the view are not data).
    const info = (snap.applications[0]!.components[0] as unknown as { info: Record<string, unknown> }).info;
    assert.deepEqual(Object.fromEntries(Object.entries(info).filter(([k]) => k.startsWith('rows.'))), { 'rows.posts': 5000, 'rows.odd': 3, 'rows.empty': 0 });
    // A restore drill loads the dump into a throwaway MariaDB and compares them.
    const drill = await cli.runAsync(['drill', 'run', snap.id, '--json']);
    assert.equal(drill.code, 0, drill.stdout + drill.stderr);
    const d = JSON.parse(drill.stdout) as { components: { status: string; checks: { name: string; ok: boolean; actual?: string }[] }[] };
    assert.equal(d.components[0]!.status, 'passed');
    assert.deepEqual(d.components[0]!.checks.map((c) => `${c.name}=${c.actual}`).sort(), ['rows in empty=0', 'rows in odd=3', 'rows in posts=5000']);
    cli.ok(['snapshot', 'restore', snap.id, '--map', `db.url=${b.url('blog')}`]);
    assert.equal(sums(b), before);
    assert.equal(b.sql("SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = 'blog'"), '2');
    const refused = cli.run(['snapshot', 'restore', snap.id]);
    assert.equal(refused.code, 4);
    assert.match(refused.stderr, /database blog is not empty \(\d table\(s\)/);
  } finally {
    a.stop();
    b.stop();
  }
});

test('redis and sqlite: a consistent RDB restored into a new server; a SQLite database copied while it is written', async () => {
  const a = await startRedis();
  const { cli, root } = freshInstance();
  const dbFile = path.join(root, 'live.db');
  const db = new Database(dbFile);
  db.pragma('journal_mode = WAL');
  db.exec('CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT); PRAGMA user_version = 7;');
  const ins = db.prepare('INSERT INTO t(v) VALUES (?)');
  for (let i = 0; i < 5000; i++) ins.run(`row ${i}`);
  try {
    for (let i = 0; i < 500; i++) a.cli('SET', `key:${i}`, `value ${i}`);
    a.cli('HSET', 'h', 'f1', 'v1', 'f2', 'v2');
    a.cli('RPUSH', 'list', 'a', 'b', 'c');
    a.cli('-n', '3', 'SET', 'in-db-3', 'yes');
    addApp(cli, root, spec('cache', `    - name: sessions\n      redis: { url: "${a.url}" }\n    - name: meta\n      sqlite: { path: ${dbFile} }\n`));
    // Writers keep going while the snapshot runs.
    let writing = true;
    const writer = (async () => {
      let n = 0;
      while (writing) {
        ins.run(`concurrent ${n++}`);
        await new Promise((r) => setImmediate(r));
      }
    })();
    const snapRun = cli.spawn(['snapshot', 'create', '--app', 'cache', '--json']);
    let out = '';
    snapRun.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    await new Promise((r) => snapRun.on('close', r));
    writing = false;
    await writer;
    const snap = JSON.parse(out) as AppSnap;
    assert.equal(snap.status, 'completed');

    const bDir = tmp('sb-redis-b-');
    const refused = cli.run(['snapshot', 'restore', snap.id]);
    assert.equal(refused.code, 4);
    assert.match(refused.stderr, /--map NAME\.rdbPath=/);
    cli.ok(['snapshot', 'restore', snap.id, '--map', `sessions.rdbPath=${bDir}/restored.rdb`, '--map', `meta.path=${root}/copy/meta.db`]);
    const b = await startRedis({ dir: bDir, dbfilename: 'restored.rdb' });
    try {
      assert.equal(b.cli('DBSIZE'), '(integer) 502');
      assert.equal(b.cli('GET', 'key:499'), '"value 499"');
      assert.equal(b.cli('HGET', 'h', 'f2'), '"v2"');
      assert.equal(b.cli('LRANGE', 'list', '0', '-1'), '1) "a"\n2) "b"\n3) "c"');
      assert.equal(b.cli('-n', '3', 'GET', 'in-db-3'), '"yes"');
    } finally {
      await b.stop();
    }
    const copy = new Database(`${root}/copy/meta.db`, { readonly: true });
    assert.equal(copy.pragma('integrity_check', { simple: true }), 'ok');
    assert.equal(copy.pragma('user_version', { simple: true }), 7);
    const rows = copy.prepare('SELECT count(*) AS n, max(id) AS m FROM t').get() as { n: number; m: number };
    assert.ok(rows.n >= 5000 && rows.n === rows.m, `a consistent copy has no gaps: ${JSON.stringify(rows)}`);
    copy.close();
  } finally {
    db.close();
    await a.stop();
  }
});

test('hooks: order and environment, fail vs continue, postBackup always runs, a hung hook is killed with its process group', async () => {
  const { cli, root } = freshInstance();
  const data = path.join(root, 'data');
  mkdirSync(data);
  writeFileSync(path.join(data, 'a.txt'), 'hello');
  const trace = path.join(root, 'trace');
  const rec = (name: string) => `["sh", "-c", "echo ${name} $STRONGBOX_PHASE $STRONGBOX_APP $STRONGBOX_COMPONENT >> ${trace}"]`;
  const components = `    - name: files\n      files: { path: ${data} }\n      hooks:\n        preBackup: [{ name: c-pre, exec: ${rec('c-pre')} }]\n    - name: index\n      command: { backup: ["sh", "-c", "echo index"], restore: ["sh", "-c", "cat > ${root}/index.out"] }\n`;
  addApp(cli, root, spec('hk', components, `    preBackup: [{ name: freeze, exec: ${rec('freeze')} }]\n    postBackup: [{ name: thaw, exec: ${rec('thaw')} }]\n`));
  const ok = cli.json<AppSnap>(['snapshot', 'create', '--app', 'hk']);
  assert.equal(ok.status, 'completed');
  assert.equal(readFileSync(trace, 'utf8'), 'freeze preBackup hk\nc-pre preBackup hk files\nthaw postBackup hk\n');

  // A failing preBackup hook with onError: fail: nothing is backed up, the snapshot is failed (exit 1), thaw still runs.
  await fs.rm(trace);
  addApp(cli, root, spec('hk', components, `    preBackup: [{ name: freeze, exec: ["sh", "-c", "echo cannot freeze >&2; exit 7"] }, { name: never, exec: ${rec('never')} }]\n    postBackup: [{ name: thaw, exec: ${rec('thaw')} }]\n`));
  const failed = cli.run(['snapshot', 'create', '--app', 'hk']);
  assert.equal(failed.code, 1, failed.stderr);
  assert.match(failed.stderr, /preBackup hook "freeze" exited with status 7; no component was backed up/);
  assert.equal(readFileSync(trace, 'utf8'), 'thaw postBackup hk\n');
  const failedId = cli.json<{ id: string; status: string }[]>(['snapshot', 'list']).at(-1)!;
  assert.equal(failedId.status, 'failed');
  const shown = cli.json<AppSnap>(['snapshot', 'show', failedId.id]);
  assert.deepEqual(shown.applications[0]!.hooks.map((h) => [h.name, h.status]), [['freeze', 'failed'], ['never', 'skipped'], ['thaw', 'succeeded']]);
  assert.match(cli.ok(['snapshot', 'logs', failedId.id]), /preBackup hook "freeze" stderr: cannot freeze/);

  // onError: continue: recorded, the backup goes on.
  addApp(cli, root, spec('hk', components, `    preBackup: [{ name: freeze, exec: ["false"], onError: continue }]\n`));
  assert.equal(cli.json<AppSnap>(['snapshot', 'create', '--app', 'hk']).status, 'completed');

  // A hook that hangs past its timeout is killed with everything it started.
  const pidFile = path.join(root, 'child.pid');
  addApp(cli, root, spec('hk', components, `    preBackup: [{ name: hang, exec: ["sh", "-c", "sleep 300 & echo $! > ${pidFile}; wait"], timeout: 1s }]\n`));
  const t0 = Date.now();
  const hung = cli.run(['snapshot', 'create', '--app', 'hk']);
  assert.equal(hung.code, 1);
  assert.match(hung.stderr, /preBackup hook "hang" timed out after 1s and was killed/);
  assert.ok(Date.now() - t0 < 20_000);
  const pid = Number(readFileSync(pidFile, 'utf8'));
  await new Promise((r) => setTimeout(r, 300));
  // Gone, or a zombie waiting for a reaper (PID 1 in a container may never reap it).
  const state = existsSync(`/proc/${pid}/stat`) ? readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]![0] : 'gone';
  assert.ok(state === 'gone' || state === 'Z', `the hook's child is killed too (state ${state})`);

  // Restore hooks: onError defaults to continue; a failing postRestore is reported, the data is restored.
  addApp(cli, root, spec('hk', components, `    postRestore: [{ name: reindex, exec: ["sh", "-c", "echo restored $STRONGBOX_SNAPSHOT_ID > ${root}/post; exit 3"] }]\n`));
  const s = cli.json<AppSnap>(['snapshot', 'create', '--app', 'hk']);
  const r = cli.run(['snapshot', 'restore', s.id, '--map', `files.path=${root}/restored`]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(readFileSync(`${root}/post`, 'utf8'), new RegExp(`restored ${s.id}`));
  assert.match(r.stderr, /hook postRestore reindex: failed/);
  assert.equal(readFileSync(`${root}/restored/a.txt`, 'utf8'), 'hello');
  assert.equal(readFileSync(`${root}/index.out`, 'utf8'), 'index\n');
});

test('specs: bad specs are refused with line numbers (exit 2) and change nothing; add, list, show, remove', () => {
  const { cli, root } = freshInstance();
  const bad = path.join(root, 'bad.yaml');
  writeFileSync(bad, spec('x', '    - name: db\n      mongodb: { url: "mongodb://h" }\n    - name: db2\n      postgres: { url: "postgres://u:pw@h/db" }\n'));
  const v = cli.run(['app', 'validate', '-f', bad]);
  assert.equal(v.code, 2);
  assert.match(v.stderr, /bad\.yaml:7:\d+: spec\.components\[0\]\.mongodb: unknown component kind or field "mongodb"/);
  assert.match(v.stderr, /bad\.yaml:9:\d+: spec\.components\[1\]\.postgres\.url: do not put a password in the URL/);
  const add = cli.run(['app', 'add', '-f', bad]);
  assert.equal(add.code, 2);
  assert.deepEqual(cli.json<unknown[]>(['app', 'list']), []);
  writeFileSync(bad, 'apiVersion: strongbox/v1\nkind: [unclosed\n');
  assert.match(cli.run(['app', 'validate', '-f', bad]).stderr, /bad\.yaml:\d+:\d+: not valid YAML/);

  const good = path.join(root, 'good.yaml');
  writeFileSync(good, spec('site', `    - name: www\n      files: { path: ${root} }\n`));
  cli.ok(['app', 'add', '-f', good]);
  assert.equal(cli.run(['app', 'add', '-f', good]).code, 1, 'a second add needs --replace');
  assert.deepEqual(cli.json<{ name: string }[]>(['app', 'list']).map((a) => a.name), ['site']);
  assert.equal(cli.ok(['app', 'show', 'site']), readFileSync(good, 'utf8'));
  cli.ok(['app', 'remove', 'site']);
  assert.equal(cli.run(['app', 'show', 'site']).code, 1);
  const schema = JSON.parse(cli.ok(['app', 'schema'])) as { properties: Record<string, unknown> };
  assert.deepEqual(Object.keys(schema.properties).sort(), ['apiVersion', 'kind', 'metadata', 'spec']);
  const published = JSON.parse(readFileSync(new URL('../../../docs/application.schema.json', import.meta.url), 'utf8')) as unknown;
  assert.deepEqual(published, schema, 'docs/application.schema.json is current ("strongbox app schema > docs/application.schema.json")');
});

test('disaster recovery: a full snapshot restored on a fresh instance brings back applications, destinations and data', async () => {
  const { cli, root } = freshInstance();
  const data = path.join(root, 'site');
  mkdirSync(path.join(data, 'sub'), { recursive: true });
  writeFileSync(path.join(data, 'index.html'), '<h1>hi</h1>');
  writeFileSync(path.join(data, 'sub', 'x.bin'), Buffer.alloc(100_000, 7));
  const dbFile = path.join(root, 'site.db');
  const db = new Database(dbFile);
  db.exec("CREATE TABLE kv(k, v); INSERT INTO kv VALUES ('a', 1), ('b', 2);");
  db.close();
  addApp(cli, root, spec('site', `    - name: www\n      files: { path: ${data} }\n    - name: db\n      sqlite: { path: ${dbFile} }\n`));
  cli.ok(['destination', 'add', 'offsite', path.join(root, 'offsite'), '--init']);
  const full = cli.json<{ id: string; type: string; status: string; instance: { files: string[] } }>(['snapshot', 'create', '--full', '--tag', 'dr']);
  assert.equal(full.type, 'full');
  assert.deepEqual(full.instance.files, ['instance.json', 'instance.key', 'catalog.sqlite']);
  const before = await describeTree(data);

  // The machine is lost: a new instance home, the old destination added again.
  const root2 = tmp('sb-dr-');
  const fresh = instanceCli(root2, 'app-test-password');
  fresh.ok(['destination', 'add', 'recovered', path.join(root, 'repo'), '--password-from-env', 'STRONGBOX_PASSWORD']);
  const list = fresh.json<{ id: string; type: string }[]>(['snapshot', 'list']);
  assert.deepEqual(list.map((s) => s.id), [full.id], 'the fresh instance lists the destination\'s snapshots');
  await fs.rm(data, { recursive: true });
  await fs.rm(dbFile);
  const dry = fresh.json<{ ok: boolean; instancePlan: string[] }>(['snapshot', 'restore', full.id, '--dry-run']);
  assert.equal(dry.ok, true);
  assert.ok(dry.instancePlan.some((l) => /add application site/.test(l)));
  assert.ok(dry.instancePlan.some((l) => /add destination offsite/.test(l)));
  assert.deepEqual(fresh.json<unknown[]>(['app', 'list']), [], 'a dry run adds nothing');
  fresh.ok(['snapshot', 'restore', full.id]);
  assert.deepEqual(await describeTree(data), before);
  const back = new Database(dbFile, { readonly: true });
  assert.deepEqual(back.prepare('SELECT k, v FROM kv ORDER BY k').all(), [{ k: 'a', v: 1 }, { k: 'b', v: 2 }]);
  back.close();
  assert.deepEqual(fresh.json<{ name: string }[]>(['app', 'list']).map((a) => a.name), ['site']);
  // The offsite destination came back with its password re-sealed under the new instance's key.
  assert.match(fresh.ok(['destination', 'validate', 'offsite'], { STRONGBOX_PASSWORD: '' }), /works/);
  assert.ok(existsSync(path.join(root2, 'home', 'catalog.sqlite')));
  assert.ok(readdirSync(path.join(root2, 'home')).includes('instance.key'));
});

test('snapshots from a newer Strongbox are refused naming both versions; plain file snapshots point to --target', async () => {
  const { cli, root } = freshInstance();
  const data = path.join(root, 'd');
  mkdirSync(data);
  writeFileSync(path.join(data, 'f'), 'x');
  addApp(cli, root, spec('v', `    - name: f\n      files: { path: ${data} }\n`));
  const snap = cli.json<{ id: string }>(['snapshot', 'create', '--app', 'v']);
  // Rewrite the manifest as a future version would have written it.
  const { openRepository } = await import('../../src/app/index.js');
  const repo = await openRepository(path.join(root, 'repo'), 'app-test-password');
  const m = await repo.loadJSON<Record<string, unknown>>('snapshots', snap.id);
  const futureId = await repo.saveJSON('snapshots', { ...m, strongboxVersion: '9.1.0', formatVersion: 2 });
  await repo.close();
  const r = cli.run(['snapshot', 'restore', futureId, '--map', `f.path=${root}/out`]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /made by Strongbox 9\.1\.0 with snapshot format 2; this is Strongbox 0\.1\.0, which reads format 1/);
  assert.equal(existsSync(`${root}/out`), false);
  const plain = cli.json<{ id: string }>(['snapshot', 'create', '--path', data]);
  assert.match(cli.run(['snapshot', 'restore', plain.id, '--map', 'x.path=/y']).stderr, /file snapshot \(use --target/);
  // An application snapshot's files restore with --target too (as /APP/COMPONENT/…); --include alone says to give --target.
  cli.ok(['snapshot', 'restore', snap.id, '--target', `${root}/as-files`]);
  assert.equal(readFileSync(`${root}/as-files/v/f/f`, 'utf8'), 'x');
  assert.match(cli.run(['snapshot', 'restore', snap.id, '--include', '/v/f']).stderr, /give --target too/);
  assert.match(cli.run(['snapshot', 'restore', futureId, '--target', `${root}/future`]).stderr, /made by Strongbox 9\.1\.0/, 'a newer format is refused as files too');
});

test('the README walkthrough: the example application is seeded, snapshotted and restored into a clean server and new directories', async () => {
  const example = new URL('../../../examples/notes/', import.meta.url).pathname;
  const { spawnSync } = await import('node:child_process');
  const seeded = spawnSync(path.join(example, 'seed.sh'), ['3000'], { encoding: 'utf8' });
  assert.equal(seeded.status, 0, `seed.sh needs the local PostgreSQL and Redis on their standard ports: ${seeded.stderr}`);
  const { cli, root } = freshInstance();
  cli.ok(['app', 'add', '-f', path.join(example, 'notes.yaml')]);
  const snap = cli.json<AppSnap>(['snapshot', 'create', '--app', 'notes']);
  assert.equal(snap.status, 'completed', JSON.stringify(snap.applications[0]?.errors));
  assert.equal(existsSync('/var/tmp/strongbox-example/notes/MAINTENANCE'), false, 'maintenance mode was switched off again');
  assert.match(cli.ok(['snapshot', 'logs', snap.id]), /notes: maintenance mode on \(run [0-9a-f]{16}\)/);
  const uploads = await describeTree('/var/tmp/strongbox-example/notes/uploads');

  // A restore drill of it (docs/DRILLS.md): every component restored into throwaway targets and checked — rows per
  // table, the spec's own checks (a query, a freshness query, a command), the index's verify command — and timed.
  const drill = await cli.runAsync(['drill', 'run', '--app', 'notes', '--json']);
  assert.equal(drill.code, 0, drill.stdout + drill.stderr);
  const d = JSON.parse(drill.stdout) as { status: string; recoveryMs: number; components: { component: string; status: string; restoreMs: number; checks: { name: string; ok: boolean; actual?: string }[] }[] };
  assert.equal(d.status, 'passed');
  assert.deepEqual(d.components.map((c) => `${c.component}:${c.status}`).sort(), ['db:passed', 'index:passed', 'search:passed', 'sessions:passed', 'uploads:passed']);
  const checks = (name: string) => d.components.find((c) => c.component === name)!.checks.map((c) => `${c.ok ? 'ok' : 'FAIL'} ${c.name} = ${c.actual ?? ''}`);
  assert.deepEqual(checks('db').filter((c) => !c.includes('rows in')), ['ok users: SELECT count(*) FROM users (expect >= 1) = 200', `ok recent notes: SELECT max(updated) FROM notes (expect within 1d of the snapshot) = ${checks('db').find((c) => c.includes('recent notes'))!.split(' = ')[1]}`]);
  assert.ok(checks('db').includes('ok rows in public.notes = 3000'));
  assert.match(checks('db').find((c) => c.includes('recent notes'))!, /= \S+ \S+, (\d+ min before the snapshot|not older than the snapshot)$/);
  assert.deepEqual(checks('index'), ['ok verify: /var/tmp/strongbox-example/notes/notes-ctl verify-index = notes: the index is sound']);
  assert.deepEqual(checks('uploads'), ['ok attachments: /var/tmp/strongbox-example/notes/notes-ctl check-uploads = notes: 20 attachments restored']);
  assert.ok(d.recoveryMs > 0 && d.components.every((c) => c.restoreMs >= 0));
  assert.equal(existsSync('/var/tmp/strongbox-example/notes/MAINTENANCE'), false, 'no hook of the application ran in the drill');

  const pg = await startPostgres();
  try {
    const out = path.join(root, 'restored');
    cli.ok([
      'snapshot', 'restore', snap.id,
      '--map', `db.url=${pg.url('notes')}`,
      '--map', `uploads.path=${out}/uploads`,
      '--map', `sessions.rdbPath=${root}/dump.rdb`,
      '--map', `search.path=${out}/search.db`,
    ]);
    const source: PgServer = { ...pg, psql: (db, sql) => spawnSync('psql', ['-X', '-At', '-h', '127.0.0.1', '-U', 'postgres', '-d', db === 'notes' ? 'notes_example' : db, '-c', sql], { encoding: 'utf8' }).stdout.trim() };
    assert.equal(pgChecksums(pg, 'notes'), pgChecksums(source, 'notes'));
    // "*.tmp" drops draft.tmp; "…/uploads/cache/**" drops what is in cache/ (the directory itself stays).
    const names = (k: string) => k.split('/').slice(1).map((x) => Buffer.from(x, 'base64').toString());
    const expected = new Map([...uploads].filter(([k]) => !(names(k)[0] === 'draft.tmp' || (names(k)[0] === 'cache' && names(k).length > 1))));
    const got = await describeTree(`${out}/uploads`);
    assert.deepEqual([...got.keys()].sort(), [...expected.keys()].sort(), 'excluded files stay out');
    assert.equal(readFileSync(`${root}/dump.rdb`).subarray(0, 5).toString(), 'REDIS');
    const search = new Database(`${out}/search.db`, { readonly: true });
    assert.equal((search.prepare('SELECT count(*) AS n FROM terms').get() as { n: number }).n, 5000);
    search.close();

    // The example's drill failing as it should: an application check whose query returns no rows fails it with the
    // query and its result; a damaged pack fails it naming the component, the pack and the file.
    const checked = path.join(root, 'notes-checked.yaml');
    writeFileSync(checked, readFileSync(path.join(example, 'notes.yaml'), 'utf8').replace('      checks:\n', '      checks:\n        - { name: welcome note, sql: "SELECT id FROM notes WHERE title = \'welcome\'", expect: rows }\n'));
    cli.ok(['app', 'add', '-f', checked, '--replace']);
    const noRows = await cli.runAsync(['drill', 'run', snap.id, '--json']);
    assert.equal(noRows.code, 1, noRows.stderr);
    const nr = JSON.parse(noRows.stdout) as { status: string; components: { component: string; status: string; reason?: string }[] };
    assert.equal(nr.status, 'failed');
    assert.deepEqual(nr.components.filter((c) => c.status === 'failed').map((c) => c.component), ['db']);
    assert.match(nr.components.find((c) => c.component === 'db')!.reason!, /^welcome note: SELECT id FROM notes WHERE title = 'welcome' \(expect rows\): expected rows, found no rows$/);
    cli.ok(['app', 'add', '-f', path.join(example, 'notes.yaml'), '--replace']);
    // One byte of the dump's first chunk is flipped (found through the repository's index; damage elsewhere could hit a
    // directory's tree, and then the snapshot itself could not be read — refused too, but not what this checks).
    const first = await damageFirstChunk(path.join(root, 'repo'), 'app-test-password', snap.id, '/notes/db/database.pgdump');
    const damaged = await cli.runAsync(['drill', 'run', snap.id, '--json']);
    assert.equal(damaged.code, 1, damaged.stderr);
    const dm = JSON.parse(damaged.stdout) as { status: string; components: { component: string; status: string; reason?: string }[] };
    assert.equal(dm.components.find((c) => c.component === 'db')!.status, 'failed');
    assert.match(dm.components.find((c) => c.component === 'db')!.reason!, new RegExp(`/notes/db/database\\.pgdump: .*blob [0-9a-f]{16} in pack ${path.basename(first).slice(0, 16)} failed authentication`));
    assert.deepEqual(dm.components.filter((c) => c.status === 'failed').map((c) => c.component), ['db'], 'the other components are intact');
    assert.deepEqual(readdirSync(path.join(root, 'home', 'drills')), [], 'nothing of the failed drills is left');
  } finally {
    pg.stop();
  }
});

test('Ctrl-C during an application snapshot: postBackup hooks still run, no snapshot is written, the repository checks clean; prune keeps run logs', async () => {
  const { cli, root } = freshInstance();
  const trace = path.join(root, 'trace');
  // A component that streams slowly, so the interrupt lands in the middle of it.
  addApp(
    cli,
    root,
    spec(
      'slow',
      `    - name: stream\n      command: { backup: ["sh", "-c", "i=0; while [ $i -lt 600 ]; do head -c 65536 /dev/urandom; sleep 0.05; i=$((i+1)); done"], restore: ["sh", "-c", "cat > /dev/null"] }\n`,
      `    preBackup: [{ name: freeze, exec: ["sh", "-c", "echo frozen >> ${trace}"] }]\n    postBackup: [{ name: thaw, exec: ["sh", "-c", "echo thawed >> ${trace}"] }]\n`,
    ),
  );
  const p = cli.spawn(['snapshot', 'create', '--app', 'slow']);
  let stderr = '';
  p.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const until = Date.now() + 20_000;
  while (!/backing up command/.test(stderr) && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
  await new Promise((r) => setTimeout(r, 1000));
  p.kill('SIGINT');
  const code = await new Promise<number | null>((r) => p.on('close', (c) => r(c)));
  assert.equal(code, 130, stderr);
  assert.equal(readFileSync(trace, 'utf8'), 'frozen\nthawed\n');
  assert.deepEqual(cli.json<unknown[]>(['snapshot', 'list']), []);
  cli.ok(['repo', 'check']);

  // A finished run's log survives prune (it is referenced by the manifest, not the tree).
  addApp(cli, root, spec('quick', `    - name: s\n      command: { backup: ["echo", "data"], restore: ["sh", "-c", "cat > /dev/null"] }\n`));
  const s = cli.json<{ id: string }>(['snapshot', 'create', '--app', 'quick']);
  cli.ok(['repo', 'prune']);
  assert.match(cli.ok(['snapshot', 'logs', s.id]), /finished: completed/);
  cli.ok(['repo', 'check', '--read-data']);
});
