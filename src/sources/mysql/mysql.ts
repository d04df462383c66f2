import { z } from 'zod';
import { AppError, childEnv } from '../../kernel/index.js';
import { resolveSecret, safeUrl, secretRefSchema, urlSchema } from '../secrets.js';
import { runQuick, spawnConsumer, spawnProducer, toolVersion } from '../tools.js';
import { DumpRowCounter } from './dump-rows.js';
import type { ComponentKind, PreflightReport } from '../source.js';
import { compareCounts, startMysql } from '../throwaway.js';
import { listSome } from '../files/files.js';

export const mysqlOptions = z.strictObject({
  url: urlSchema(['mysql', 'mariadb'], 'mysql://notes@127.0.0.1:3306/notes'),
  passwordFrom: secretRefSchema.optional(),
  dumpArgs: z.array(z.string()).optional().describe('Extra dump arguments, e.g. ["--ignore-table=notes.cache"].'),
});
export type MysqlOptions = z.infer<typeof mysqlOptions>;

interface Conn {
  host: string;
  port: string;
  user: string;
  database: string;
}

function parse(url: string): Conn {
  const u = new URL(url);
  const database = decodeURIComponent(u.pathname.replace(/^\//, ''));
  if (!database) throw new AppError('INVALID_ARGUMENT', `The MySQL URL ${safeUrl(url)} names no database; add it after the port: …:3306/DBNAME.`);
  return { host: u.hostname || '127.0.0.1', port: u.port || '3306', user: decodeURIComponent(u.username) || 'root', database };
}

function env(o: MysqlOptions): NodeJS.ProcessEnv {
  const pw = resolveSecret(o.passwordFrom, 'MySQL password');
  // MYSQL_PWD keeps the password off the command line (visible in ps).
  return childEnv(pw !== undefined ? { MYSQL_PWD: pw } : {});
}

function firstTool(names: string[]): string | undefined {
  for (const n of names) if (toolVersion(n)) return n;
  return undefined;
}

function connArgs(c: Conn, client = true): string[] {
  // mariadb-dump has no --connect-timeout; the client does.
  return ['--host', c.host, '--port', c.port, '--user', c.user, ...(client ? ['--connect-timeout=10'] : [])];
}

function client(c: Conn, e: NodeJS.ProcessEnv, sql: string, database?: string) {
  const tool = firstTool(['mariadb', 'mysql']) ?? 'mariadb';
  return runQuick([tool, ...connArgs(c), '--batch', '--skip-column-names', '-e', sql, ...(database ? [database] : [])], e);
}

function quoteIdent(s: string): string {
  return '`' + s.replace(/`/g, '``') + '`';
}

/**
 * MariaDB/MySQL through mariadb-dump (or mysqldump) with --single-transaction:
 * a consistent InnoDB snapshot without locking writers. The dump is SQL text
 * without CREATE DATABASE, so it can be restored into any database name, and
 * without the dump date, so unchanged tables give unchanged chunks.
 */
export const mysqlKind: ComponentKind<MysqlOptions> = {
  kind: 'mysql',
  schema: mysqlOptions,
  shape: 'stream',
  artifact: 'database.sql',
  mappable: ['url', 'passwordFrom.env', 'passwordFrom.file'],
  describe: (o) => safeUrl(o.url),
  async backup(o, senv) {
    const tool = firstTool(['mariadb-dump', 'mysqldump']);
    if (!tool) throw new AppError('INVALID_ARGUMENT', 'Neither mariadb-dump nor mysqldump is installed (needed to back up MySQL/MariaDB); install the client (Debian: mariadb-client).');
    const c = parse(o.url);
    const e = env(o);
    const server = client(c, e, 'SELECT VERSION()');
    if (!server.ok) throw new AppError('STORAGE_UNAVAILABLE', `Cannot connect to MySQL at ${safeUrl(o.url)}: ${server.stderr.trim().split('\n')[0]}`);
    const version = toolVersion(tool)!;
    senv.log(`${tool}: ${version}; server ${server.stdout.trim()}; ${safeUrl(o.url)}`);
    const argv = [tool, ...connArgs(c, false), '--single-transaction', '--quick', '--routines', '--triggers', '--events', '--hex-blob', '--skip-dump-date', '--no-tablespaces', '--default-character-set=utf8mb4', ...(o.dumpArgs ?? []), c.database];
    const p = spawnProducer(argv, e, `dump ${safeUrl(o.url)}`, senv.signal);
    // Rows per table counted in the dump itself as it passes (its own transaction): what a drill compares the restore with.
    const counter = new DumpRowCounter();
    const counted = counter.transform();
    p.stream.on('error', (err) => counted.destroy(err));
    p.stream.pipe(counted);
    return {
      stream: counted,
      done: p.done.then(() => {
        const rows = counter.result();
        if (!rows) senv.log('the dump\'s layout does not allow counting its rows: a drill will not compare row counts');
        return { tool: version, serverVersion: server.stdout.trim(), format: 'SQL (single transaction)', ...Object.fromEntries([...(rows ?? [])].map(([t, n]) => [`rows.${t}`, n])) };
      }),
    };
  },
  async preflight(o, _senv, _info, force) {
    const report: PreflightReport = { target: safeUrl(o.url), problems: [], plan: [] };
    if (!firstTool(['mariadb', 'mysql'])) {
      report.problems.push('neither the mariadb nor the mysql client is installed; install it (Debian: mariadb-client)');
      return report;
    }
    let c: Conn;
    let e: NodeJS.ProcessEnv;
    try {
      c = parse(o.url);
      e = env(o);
    } catch (err) {
      report.problems.push((err as Error).message);
      return report;
    }
    const dbs = client(c, e, `SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = '${c.database.replace(/'/g, "''")}'`);
    if (!dbs.ok) {
      report.problems.push(`cannot connect to ${safeUrl(o.url)}: ${dbs.stderr.trim().split('\n')[0]}`);
      return report;
    }
    if (dbs.stdout.trim() === '') {
      report.plan.push(`create database ${c.database}, then load the dump into it`);
      return report;
    }
    const tables = client(c, e, `SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = '${c.database.replace(/'/g, "''")}' ORDER BY 1`);
    const names = tables.stdout.split('\n').filter((l) => l !== '');
    if (names.length === 0) report.plan.push(`load the dump into the empty database ${c.database}`);
    else if (force) report.plan.push(`load the dump into ${c.database} over its ${names.length} table(s) (--force: the dump drops and recreates its own tables): ${listSome(names)}`);
    else report.problems.push(`database ${c.database} is not empty (${names.length} table(s): ${listSome(names)}); restore into an empty or new database with --map NAME.url=mysql://…/NEWDB, or add --force`);
    return report;
  },
  async drillTarget(info, scratch, senv) {
    const server = await startMysql(scratch, senv.signal);
    const url = `mysql://root@127.0.0.1:${server.port}/drill`;
    return {
      options: { url },
      connection: { STRONGBOX_DRILL_URL: url, MYSQL_HOST: '127.0.0.1', MYSQL_TCP_PORT: String(server.port), MYSQL_DATABASE: 'drill', MYSQL_USER: 'root' },
      async verify() {
        const c = parse(url);
        const q = client(c, env({ url }), "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'drill' AND TABLE_TYPE = 'BASE TABLE' ORDER BY 1");
        if (!q.ok) return [{ name: 'list the restored tables', ok: false, actual: q.stderr.trim().split('\n')[0] ?? '' }];
        const found = new Map<string, number>();
        for (const t of q.stdout.split('\n').filter(Boolean)) {
          const n = client(c, env({ url }), `SELECT count(*) FROM ${quoteIdent('drill')}.${quoteIdent(t)}`);
          found.set(t, n.ok ? Number(n.stdout.trim()) : NaN);
        }
        return compareCounts(info, 'rows.', found, 'rows in');
      },
      async query(sql) {
        const r = client(parse(url), env({ url }), sql, 'drill');
        if (!r.ok) throw new AppError('INVALID_ARGUMENT', `the query failed: ${r.stderr.trim().split('\n')[0] ?? ''}`);
        return r.stdout.split('\n').filter((l) => l !== '').map((l) => l.split('\t'));
      },
      cleanup: () => server.stop(),
    };
  },
  async restore(o, input, senv) {
    const c = parse(o.url);
    const e = env(o);
    const create = client(c, e, `CREATE DATABASE IF NOT EXISTS ${quoteIdent(c.database)}`);
    if (!create.ok) throw new AppError('RESTORE_INCOMPLETE', `Cannot create database ${c.database}: ${create.stderr.trim().split('\n')[0]}`);
    const tool = firstTool(['mariadb', 'mysql']) ?? 'mariadb';
    senv.log(`${tool}: loading the dump into ${safeUrl(o.url)}`);
    await spawnConsumer([tool, ...connArgs(c), '--binary-mode', c.database], e, input, `restore into ${safeUrl(o.url)}`, senv.signal);
    return { tool: toolVersion(tool) ?? tool };
  },
};
