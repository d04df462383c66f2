import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { startPostgres, type PgServer } from '../test/e2e/testing/servers.js';

/**
 * The PostgreSQL scenario of `npm run bench -- --scenario pg`: a database of
 * about --pg-size GiB (dump size) in a throwaway server; a first snapshot, a
 * second after 1 % of the rows change (in ten clusters across the table, the
 * way hot rows group in real applications), and a restore into a new
 * database — for Strongbox (an application with one postgres component),
 * `pg_dump | zstd` to a file, and restic reading the same dump on stdin, in
 * the same run. Every variant runs pg_dump itself, so the times compare the
 * whole job. Peak RSS is the largest process of each pipeline.
 */
export interface PgMeasure {
  seconds: number;
  peakRssMiB: number;
}
export interface PgToolResult {
  tool: string;
  version: string;
  first?: PgMeasure;
  second?: PgMeasure;
  restore?: PgMeasure;
  firstBytes?: number;
  secondGrowthBytes?: number;
  verified?: boolean;
  error?: string;
}

const PASSWORD = 'bench-password';

function timedShell(script: string, env: NodeJS.ProcessEnv = {}): Promise<PgMeasure> {
  return new Promise((resolve, reject) => {
    const p = spawn('/usr/bin/time', ['-f', 'BENCH %e %M', 'bash', '-o', 'pipefail', '-c', script], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('close', (code) => {
      const m = /BENCH ([\d.]+) (\d+)/.exec(err);
      if (code !== 0 || !m) reject(new Error(`${script} failed (${code}): ${err.slice(-1500)}`));
      else resolve({ seconds: Number(m[1]), peakRssMiB: Number(m[2]) / 1024 });
    });
  });
}

function du(p: string): number {
  return Number(spawnSync('du', ['-sb', p], { encoding: 'utf8' }).stdout.split('\t')[0]);
}

function version(cmd: string, arg = '--version'): string | undefined {
  const r = spawnSync(cmd, [arg], { encoding: 'utf8' });
  return r.error || r.status !== 0 ? undefined : (r.stdout || r.stderr).split('\n')[0]!.trim();
}

function fingerprint(pg: PgServer, db: string): string {
  return pg.psql(db, "SELECT count(*) || ' ' || sum(hashtext(t::text)::bigint) FROM items t");
}

export async function runPgBench(work: string, sizeGiB: number, strongbox: string, out: (s: string) => void): Promise<{ dumpBytes: number; dbBytes: number; rows: number; results: PgToolResult[] }> {
  await fs.mkdir(work, { recursive: true });
  const pg = await startPostgres();
  try {
    // ~330 bytes of dump per row (hex text compresses about 2:1, like real text columns).
    const rows = Math.round((sizeGiB * 1024 ** 3) / 330);
    out(`PostgreSQL: creating ${rows} rows…\n`);
    pg.psql('postgres', 'CREATE DATABASE bench');
    pg.psql(
      'bench',
      `CREATE TABLE items(id bigint PRIMARY KEY, owner int NOT NULL, title text, body text, created timestamptz NOT NULL);
       INSERT INTO items SELECT g, g % 5000, 'item ' || g, md5(g::text) || md5((g * 7)::text) || md5((g * 13)::text) || md5((g * 17)::text) || md5((g * 19)::text) || md5((g * 23)::text) || md5((g * 29)::text) || md5((g * 31)::text),
         timestamptz '2026-01-01' + g * interval '1 second' FROM generate_series(1, ${rows}) g;
       CREATE INDEX items_owner ON items(owner);`,
    );
    pg.psql('bench', 'VACUUM ANALYZE items');
    const url = pg.url('bench');
    const pgEnv = { PGHOST: '127.0.0.1', PGPORT: String(pg.port), PGUSER: 'postgres' };
    const dumpBytes = Number(spawnSync('bash', ['-c', `pg_dump -Fc -Z0 -d bench | wc -c`], { env: { ...process.env, ...pgEnv }, encoding: 'utf8' }).stdout.trim());
    const dbBytes = Number(pg.psql('bench', "SELECT pg_database_size('bench')"));
    out(`PostgreSQL: database ${(dbBytes / 1024 ** 3).toFixed(2)} GiB on disk, dump ${(dumpBytes / 1024 ** 3).toFixed(2)} GiB\n`);
    const source = fingerprint(pg, 'bench');

    const home = path.join(work, 'sb-home');
    const sbRepo = path.join(work, 'sb-repo');
    const resticRepo = path.join(work, 'restic-repo');
    const zstdFile = (n: number) => path.join(work, `bench-${n}.pgdump.zst`);
    const sbEnv = { STRONGBOX_HOME: home, STRONGBOX_PASSWORD: PASSWORD, STRONGBOX_REPO: sbRepo };
    const specFile = path.join(work, 'benchpg.yaml');
    await fs.writeFile(specFile, `apiVersion: strongbox/v1\nkind: Application\nmetadata: { name: benchpg, version: "1" }\nspec:\n  components:\n    - name: db\n      postgres: { url: "${url}" }\n`);
    spawnSync(process.execPath, [strongbox, 'repo', 'init'], { env: { ...process.env, ...sbEnv } });
    spawnSync(process.execPath, [strongbox, 'app', 'add', '-f', specFile], { env: { ...process.env, ...sbEnv } });
    const resticVersion = version('restic', 'version');
    if (resticVersion) spawnSync('restic', ['init', '-q', '--repo', resticRepo], { env: { ...process.env, RESTIC_PASSWORD: PASSWORD } });

    const tools: { name: string; version: string | undefined; backup: (n: number) => Promise<PgMeasure>; size: () => number; restore: (db: string) => Promise<PgMeasure> }[] = [
      {
        name: 'strongbox',
        version: 'strongbox 0.1.0',
        backup: () => timedShell(`node ${strongbox} snapshot create --app benchpg -q`, sbEnv),
        size: () => du(sbRepo),
        restore: (db) => timedShell(`node ${strongbox} snapshot restore latest -q --map db.url=${pg.url(db)}`, sbEnv),
      },
      {
        name: 'pg_dump | zstd',
        version: `${version('pg_dump')}; ${version('zstd')}`,
        backup: (n) => timedShell(`pg_dump -Fc -Z0 -d bench | zstd -q -3 -T0 -o ${zstdFile(n)}`, pgEnv),
        size: () => du(zstdFile(1)) + (spawnSync('test', ['-e', zstdFile(2)]).status === 0 ? du(zstdFile(2)) : 0),
        restore: (db) => timedShell(`createdb ${db} && zstd -dc ${zstdFile(2)} | pg_restore --no-owner --exit-on-error --single-transaction -d ${db}`, pgEnv),
      },
      {
        name: 'restic',
        version: resticVersion,
        backup: () => timedShell(`pg_dump -Fc -Z0 -d bench | restic backup -q --repo ${resticRepo} --stdin --stdin-filename bench.pgdump`, { ...pgEnv, RESTIC_PASSWORD: PASSWORD }),
        size: () => du(resticRepo),
        restore: (db) => timedShell(`createdb ${db} && restic dump -q --repo ${resticRepo} latest bench.pgdump | pg_restore --no-owner --exit-on-error --single-transaction -d ${db}`, { ...pgEnv, RESTIC_PASSWORD: PASSWORD }),
      },
    ];
    const results: PgToolResult[] = tools.map((t) => ({ tool: t.name, version: t.version ?? 'not installed', ...(t.version ? {} : { error: 'not installed' }) }));
    for (const [i, t] of tools.entries()) {
      const r = results[i]!;
      if (r.error) continue;
      try {
        out(`${t.name}: first snapshot…\n`);
        r.first = await t.backup(1);
        r.firstBytes = t.size();
      } catch (err) {
        r.error = (err as Error).message;
      }
    }
    out('PostgreSQL: changing 1 % of the rows (ten clusters)…\n');
    const step = Math.floor(rows / 10);
    const run = Math.floor(rows / 1000);
    const ranges = Array.from({ length: 10 }, (_, k) => `(id > ${k * step + step / 3} AND id <= ${k * step + step / 3 + run})`).join(' OR ');
    pg.psql('bench', `UPDATE items SET title = title || ' (edited)', created = created + interval '1 day' WHERE ${ranges}`);
    const changed = fingerprint(pg, 'bench');
    if (changed === source) throw new Error('the update changed nothing');
    for (const [i, t] of tools.entries()) {
      const r = results[i]!;
      if (r.error) continue;
      try {
        out(`${t.name}: second snapshot…\n`);
        r.second = await t.backup(2);
        r.secondGrowthBytes = t.size() - r.firstBytes!;
        out(`${t.name}: restore…\n`);
        const db = `restored_${i}`;
        r.restore = await t.restore(db);
        r.verified = fingerprint(pg, db) === changed;
        if (!r.verified) r.error = 'the restored table differs from the source';
        pg.psql('postgres', `DROP DATABASE ${db}`);
      } catch (err) {
        r.error = (err as Error).message;
      }
    }
    return { dumpBytes, dbBytes, rows, results };
  } finally {
    pg.stop();
  }
}

export function reportPg(r: { dumpBytes: number; dbBytes: number; rows: number; results: PgToolResult[] }, out: (s: string) => void): void {
  const base = r.results.find((x) => x.tool === 'restic' && !x.error);
  const zstd = r.results.find((x) => x.tool === 'pg_dump | zstd' && !x.error);
  const mib = r.dumpBytes / 1024 ** 2;
  const fmt = (m: PgMeasure | undefined, pick: (x: PgToolResult) => PgMeasure | undefined) => {
    if (!m) return '-';
    const vs = [base && pick(base) ? `${(pick(base)!.seconds / m.seconds).toFixed(2)}× restic` : '', zstd && pick(zstd) ? `${(pick(zstd)!.seconds / m.seconds).toFixed(2)}× pg_dump|zstd` : ''].filter(Boolean).join(', ');
    return `${m.seconds.toFixed(1)} s, ${(mib / m.seconds).toFixed(0)} MiB/s, ${m.peakRssMiB.toFixed(0)} MiB RSS${vs ? ` (speed: ${vs})` : ''}`;
  };
  out(`\nPostgreSQL: ${r.rows} rows, database ${(r.dbBytes / 1024 ** 3).toFixed(2)} GiB on disk, dump ${(r.dumpBytes / 1024 ** 3).toFixed(2)} GiB (pg_dump -Fc -Z0)\n`);
  for (const x of r.results) {
    out(`\n${x.tool} (${x.version})\n`);
    if (x.error) out(`  ERROR: ${x.error}\n`);
    out(`  first snapshot:  ${fmt(x.first, (y) => y.first)}\n`);
    out(`  second snapshot: ${fmt(x.second, (y) => y.second)}\n`);
    out(`  restore:         ${fmt(x.restore, (y) => y.restore)}${x.verified ? ', verified' : ''}\n`);
    if (x.firstBytes !== undefined) out(`  stored:          ${(x.firstBytes / 1024 ** 2).toFixed(1)} MiB after the first, +${((x.secondGrowthBytes ?? 0) / 1024 ** 2).toFixed(1)} MiB for the second\n`);
  }
}
