import { z } from 'zod';
import type { Readable } from 'node:stream';
import { spawn, type ChildProcess } from 'node:child_process';
import { startPostgres, compareCounts } from '../throwaway.js';
import { AppError, childEnv } from '../../kernel/index.js';
import { resolveSecret, safeUrl, secretRefSchema, urlSchema } from '../secrets.js';
import { majorOf, runQuick, spawnConsumer, spawnProducer, toolVersion } from '../tools.js';
import type { ArtifactInfo, ComponentKind, PreflightReport } from '../source.js';
import { listSome } from '../files/files.js';

export const postgresOptions = z.strictObject({
  url: urlSchema(['postgres', 'postgresql'], 'postgres://notes@127.0.0.1:5432/notes'),
  passwordFrom: secretRefSchema.optional(),
  keepOwnership: z.boolean().optional().describe('Restore owners and grants (the roles must exist on the target). Default: objects belong to the restoring user.'),
  dumpArgs: z.array(z.string()).optional().describe('Extra pg_dump arguments, e.g. ["--exclude-table-data=audit_log"].'),
});
export type PostgresOptions = z.infer<typeof postgresOptions>;

function env(o: PostgresOptions): NodeJS.ProcessEnv {
  const pw = resolveSecret(o.passwordFrom, 'PostgreSQL password');
  // libpq reads these; nothing secret goes on a command line (visible in ps).
  return childEnv({ ...(pw !== undefined ? { PGPASSWORD: pw } : {}), PGCONNECT_TIMEOUT: process.env.PGCONNECT_TIMEOUT ?? '10', PGAPPNAME: 'strongbox' });
}

function databaseOf(url: string): string {
  const name = decodeURIComponent(new URL(url).pathname.replace(/^\//, ''));
  if (!name) throw new AppError('INVALID_ARGUMENT', `The PostgreSQL URL ${safeUrl(url)} names no database; add it after the port: …:5432/DBNAME.`);
  return name;
}

function withDatabase(url: string, db: string): string {
  const u = new URL(url);
  u.pathname = '/' + encodeURIComponent(db);
  return u.toString();
}

function psql(url: string, e: NodeJS.ProcessEnv, sql: string) {
  return runQuick(['psql', '--no-psqlrc', '-X', '-At', '-v', 'ON_ERROR_STOP=1', '--dbname', url, '-c', sql], e);
}

/**
 * PostgreSQL through pg_dump's custom format, uncompressed: one consistent
 * snapshot of the database (a repeatable-read transaction), table data as
 * COPY text in table order, so unchanged rows give unchanged chunks and the
 * repository deduplicates between snapshots (compressed dumps change
 * everywhere). Strongbox compresses the chunks itself. pg_restore reads it
 * back selectively, and refuses a dump newer than itself, which the preflight
 * checks first.
 */
export const postgresKind: ComponentKind<PostgresOptions> = {
  kind: 'postgres',
  schema: postgresOptions,
  shape: 'stream',
  artifact: 'database.pgdump',
  mappable: ['url', 'passwordFrom.env', 'passwordFrom.file', 'keepOwnership'],
  describe: (o) => safeUrl(o.url),
  async backup(o, senv) {
    const version = toolVersion('pg_dump');
    if (!version) throw new AppError('INVALID_ARGUMENT', 'pg_dump is not installed (needed to back up PostgreSQL); install the PostgreSQL client (Debian: postgresql-client).');
    databaseOf(o.url);
    const e = env(o);
    const server = psql(o.url, e, 'SHOW server_version');
    if (!server.ok) throw new AppError('STORAGE_UNAVAILABLE', `Cannot connect to PostgreSQL at ${safeUrl(o.url)}: ${server.stderr.trim().split('\n')[0]}`);
    // Rows per table are counted in the very snapshot the dump reads (an exported snapshot), so a restore drill can compare them exactly.
    const session = await SnapshotSession.open(o.url, e);
    let counts: Record<string, number>;
    try {
      counts = await session.counts();
    } catch (err) {
      session.close();
      throw err;
    }
    const argv = ['pg_dump', '--format=custom', '--compress=0', '--lock-wait-timeout=60000', `--snapshot=${session.snapshot}`, ...(o.dumpArgs ?? []), '--dbname', o.url];
    senv.log(`pg_dump: ${version}; server ${server.stdout.trim()}; ${safeUrl(o.url)}; ${Object.keys(counts).length} table(s) counted in the dump's snapshot`);
    const p = spawnProducer(argv, e, `dump ${safeUrl(o.url)}`, senv.signal);
    const done = p.done.finally(() => session.close());
    const rows = Object.fromEntries(Object.entries(counts).map(([t, n]) => [`rows.${t}`, n]));
    return { stream: p.stream, done: done.then(() => ({ tool: version, toolMajor: majorOf(version) ?? 0, serverVersion: server.stdout.trim(), format: 'pg_dump custom, uncompressed', ...rows })) };
  },
  async preflight(o, _senv, info, force) {
    const report: PreflightReport = { target: safeUrl(o.url), problems: [], plan: [] };
    const restoreVersion = toolVersion('pg_restore');
    if (!restoreVersion) report.problems.push('pg_restore is not installed; install the PostgreSQL client (Debian: postgresql-client)');
    else if ((majorOf(restoreVersion) ?? 0) < Number(info.toolMajor ?? 0)) {
      report.problems.push(`${restoreVersion} cannot read a dump made by ${String(info.tool)}; install PostgreSQL client ${String(info.toolMajor)} or newer`);
    }
    let db: string;
    let e: NodeJS.ProcessEnv;
    try {
      db = databaseOf(o.url);
      e = env(o);
    } catch (err) {
      report.problems.push((err as Error).message);
      return report;
    }
    const q = psql(o.url, e, "SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r','v','m','S','f','p') AND n.nspname NOT IN ('pg_catalog','information_schema') AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%' ORDER BY 1");
    if (!q.ok) {
      if (/does not exist/.test(q.stderr) && /database/.test(q.stderr)) {
        const admin = psql(withDatabase(o.url, 'postgres'), e, 'SELECT rolsuper OR rolcreatedb FROM pg_roles WHERE rolname = current_user');
        if (!admin.ok) report.problems.push(`database "${db}" does not exist and the server's "postgres" database cannot be reached to create it: ${firstLine(admin.stderr)}`);
        else if (admin.stdout.trim() !== 't') report.problems.push(`database "${db}" does not exist and the user may not create databases; create it (empty) first, or grant CREATEDB`);
        else report.plan.push(`create database "${db}", then restore into it with pg_restore`);
      } else report.problems.push(`cannot connect to ${safeUrl(o.url)}: ${firstLine(q.stderr)}`);
      return report;
    }
    const objects = q.stdout.split('\n').filter((l) => l !== '');
    if (objects.length === 0) report.plan.push(`restore into the empty database "${db}" with pg_restore${o.keepOwnership ? ' (keeping owners and grants)' : ' (objects owned by the connecting user)'}`);
    else if (force) report.plan.push(`drop and replace the snapshot's objects in "${db}" (--force; pg_restore --clean), which holds ${objects.length} relation(s): ${listSome(objects)}`);
    else report.problems.push(`database "${db}" is not empty (${objects.length} relation(s): ${listSome(objects)}); restore into an empty or new database with --map NAME.url=postgres://…/NEWDB, or add --force`);
    return report;
  },
  async drillTarget(info, scratch, senv) {
    const major = majorOf(String(info.serverVersion ?? info.tool ?? '')) ?? majorOf(toolVersion('pg_restore')) ?? 15;
    const server = await startPostgres(major, scratch, senv.signal);
    const url = `postgres://postgres@127.0.0.1:${server.port}/drill`;
    return {
      options: { url },
      connection: { STRONGBOX_DRILL_URL: url, PGHOST: '127.0.0.1', PGPORT: String(server.port), PGUSER: 'postgres', PGDATABASE: 'drill' },
      async verify() {
        const q = psql(url, env({ url }), COUNT_ROWS_SQL);
        if (!q.ok) return [{ name: 'count rows in the restored database', ok: false, actual: firstLine(q.stderr) }];
        return compareCounts(info, 'rows.', new Map(Object.entries(parseCounts(q.stdout))), 'rows in');
      },
      async query(sql) {
        const r = runQuick(['psql', '--no-psqlrc', '-X', '-At', '-F', '\u001f', '-v', 'ON_ERROR_STOP=1', '--dbname', url, '-c', sql], env({ url }));
        if (!r.ok) throw new AppError('INVALID_ARGUMENT', `the query failed: ${firstLine(r.stderr)}`);
        return r.stdout.split('\n').filter((l) => l !== '').map((l) => l.split('\u001f'));
      },
      cleanup: () => server.stop(),
    };
  },
  async restore(o, input: Readable, senv, _info, force): Promise<ArtifactInfo> {
    const e = env(o);
    const db = databaseOf(o.url);
    const exists = psql(o.url, e, 'SELECT 1');
    if (!exists.ok) {
      const create = psql(withDatabase(o.url, 'postgres'), e, `CREATE DATABASE "${db.replace(/"/g, '""')}"`);
      if (!create.ok) throw new AppError('RESTORE_INCOMPLETE', `Cannot create database "${db}": ${firstLine(create.stderr)}`);
      senv.log(`created database "${db}"`);
    }
    const argv = ['pg_restore', '--exit-on-error', '--single-transaction', ...(o.keepOwnership ? [] : ['--no-owner', '--no-privileges']), ...(force ? ['--clean', '--if-exists'] : []), '--dbname', o.url];
    const version = toolVersion('pg_restore') ?? 'pg_restore';
    senv.log(`${version}: restoring into ${safeUrl(o.url)}`);
    await spawnConsumer(argv, e, input, `restore into ${safeUrl(o.url)}`, senv.signal);
    return { tool: version };
  },
};

/** Rows per table of the current database, as "schema.table|count" lines (one query, no server-side function needed). */
export const COUNT_ROWS_SQL = `SELECT table_schema || '.' || table_name || '|' || (xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM %I.%I', table_schema, table_name), false, true, '')))[1]::text FROM information_schema.tables WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1`;

function parseCounts(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const i = line.lastIndexOf('|');
    if (i > 0) out[line.slice(0, i)] = Number(line.slice(i + 1));
  }
  return out;
}

/**
 * A psql session holding a repeatable-read transaction open while pg_dump
 * reads the snapshot it exported: what is counted here is what is dumped.
 */
class SnapshotSession {
  private buf = '';
  private waiters: (() => void)[] = [];
  private constructor(
    private readonly child: ChildProcess,
    readonly snapshot: string,
  ) {}

  static async open(url: string, env: NodeJS.ProcessEnv): Promise<SnapshotSession> {
    const child = spawn('psql', ['--no-psqlrc', '-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', '--dbname', url], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const s = new SnapshotSession(child, '');
    child.stdout!.on('data', (d: Buffer) => {
      s.buf += d.toString();
      for (const w of s.waiters.splice(0)) w();
    });
    child.on('close', () => {
      for (const w of s.waiters.splice(0)) w();
    });
    child.stdin!.on('error', () => undefined);
    child.stdin!.write("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;\nSELECT 'SNAPSHOT ' || pg_export_snapshot();\n");
    const line = await s.until(/SNAPSHOT (\S+)\n/, () => err);
    return Object.assign(s, { snapshot: line[1]! });
  }

  private async until(re: RegExp, err: () => string): Promise<RegExpExecArray> {
    for (;;) {
      const m = re.exec(this.buf);
      if (m) {
        this.buf = this.buf.slice(m.index + m[0].length);
        return m;
      }
      if (this.child.exitCode !== null) throw new AppError('STORAGE_UNAVAILABLE', `psql could not hold a snapshot for the dump: ${firstLine(err()) || 'it exited'}`);
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }

  async counts(): Promise<Record<string, number>> {
    this.child.stdin!.write(`${COUNT_ROWS_SQL};\nSELECT '__counted__';\n`);
    const m = await this.until(/([\s\S]*?)__counted__\n/, () => '');
    return parseCounts(m[1]!);
  }

  close(): void {
    this.child.stdin!.end('COMMIT;\n');
  }
}

function firstLine(s: string): string {
  return s.trim().split('\n')[0] ?? '';
}
