import { z } from 'zod';
import type { Readable } from 'node:stream';
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
    const argv = ['pg_dump', '--format=custom', '--compress=0', '--lock-wait-timeout=60000', ...(o.dumpArgs ?? []), '--dbname', o.url];
    senv.log(`pg_dump: ${version}; server ${server.stdout.trim()}; ${safeUrl(o.url)}`);
    const p = spawnProducer(argv, e, `dump ${safeUrl(o.url)}`, senv.signal);
    return { stream: p.stream, done: p.done.then(() => ({ tool: version, toolMajor: majorOf(version) ?? 0, serverVersion: server.stdout.trim(), format: 'pg_dump custom, uncompressed' })) };
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

function firstLine(s: string): string {
  return s.trim().split('\n')[0] ?? '';
}
