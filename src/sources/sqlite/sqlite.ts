import { createReadStream, createWriteStream, existsSync, fsyncSync, openSync, closeSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import Database from 'better-sqlite3';
import { z } from 'zod';
import { AppError } from '../../kernel/index.js';
import type { ComponentKind, PreflightReport } from '../source.js';
import { compareCounts } from '../throwaway.js';

export const sqliteOptions = z.strictObject({
  path: z.string().startsWith('/', 'use an absolute path').describe('The database file.'),
});
export type SqliteOptions = z.infer<typeof sqliteOptions>;

/**
 * SQLite through its online backup API: a page-exact, consistent copy taken
 * while the application keeps writing (the copy restarts from the pages that
 * changed). The API writes a database file, so the copy goes to the
 * instance's spool directory first and is streamed from there, then deleted;
 * this is the one component kind that needs scratch space (the database's
 * size). Restore writes the file beside its target, checks it, then renames
 * it into place.
 */
export const sqliteKind: ComponentKind<SqliteOptions> = {
  kind: 'sqlite',
  schema: sqliteOptions,
  shape: 'stream',
  artifact: 'database.sqlite',
  mappable: ['path'],
  describe: (o) => o.path,
  async backup(o, senv) {
    if (!existsSync(o.path)) throw new AppError('INVALID_ARGUMENT', `SQLite database ${o.path} does not exist; check sqlite.path in the spec.`);
    let db: Database.Database;
    try {
      db = new Database(o.path, { readonly: true, fileMustExist: true });
      db.pragma('busy_timeout = 10000');
    } catch (err) {
      throw new AppError('INVALID_ARGUMENT', `Cannot open SQLite database ${o.path}: ${(err as Error).message}`, { cause: err });
    }
    const tmp = join(senv.spoolDir, `sqlite-${randomBytes(8).toString('hex')}.db`);
    try {
      await db.backup(tmp);
    } catch (err) {
      rmSync(tmp, { force: true });
      throw new AppError('INVALID_ARGUMENT', `SQLite backup of ${o.path} failed: ${(err as Error).message}`, { cause: err });
    } finally {
      db.close();
    }
    // Rows per table of the copy (the very data streamed), for restore drills to compare with.
    let rows: Record<string, number> = {};
    try {
      rows = countRows(tmp);
    } catch (err) {
      rmSync(tmp, { force: true });
      throw new AppError('INVALID_ARGUMENT', `Cannot read the SQLite copy of ${o.path}: ${(err as Error).message}`, { cause: err });
    }
    const size = statSync(tmp).size;
    senv.log(`sqlite: consistent copy of ${o.path} taken (${size} bytes), streaming it`);
    const stream = createReadStream(tmp, { highWaterMark: 1024 * 1024 });
    const done = new Promise<Record<string, string | number>>((resolve, reject) => {
      stream.on('close', () => {
        rmSync(tmp, { force: true });
        resolve({ tool: `SQLite ${sqliteVersion()}`, format: 'SQLite database file (online backup API)', ...Object.fromEntries(Object.entries(rows).map(([t, n]) => [`rows.${t}`, n])) });
      });
      stream.on('error', (e) => {
        rmSync(tmp, { force: true });
        reject(e);
      });
    });
    return { stream, done };
  },
  async preflight(o, _senv, _info, force) {
    const report: PreflightReport = { target: o.path, problems: [], plan: [] };
    const dir = dirname(o.path);
    try {
      if (!statSync(dir).isDirectory()) report.problems.push(`${dir} is not a directory`);
    } catch {
      report.plan.push(`create the directory ${dir}`);
    }
    let size = -1;
    try {
      size = statSync(o.path).size;
    } catch {
      /* absent: fine */
    }
    if (size < 0) report.plan.push(`write the database to ${o.path}`);
    else if (size === 0) report.plan.push(`write the database over the empty file ${o.path}`);
    else if (force) report.plan.push(`replace the existing database ${o.path} (${size} bytes; --force). Stop the application first.`);
    else report.problems.push(`${o.path} already exists (${size} bytes); restore to another file with --map NAME.path=FILE, or add --force (stop the application first)`);
    return report;
  },
  async drillTarget(info, scratch) {
    const path = join(scratch, 'sqlite', 'database.sqlite');
    return {
      options: { path },
      connection: { STRONGBOX_DRILL_PATH: path },
      async verify() {
        const db = new Database(path, { readonly: true, fileMustExist: true });
        let integrity: string;
        try {
          integrity = String(db.pragma('integrity_check', { simple: true }));
        } finally {
          db.close();
        }
        return [{ name: 'PRAGMA integrity_check', ok: integrity === 'ok', expected: 'ok', actual: integrity }, ...compareCounts(info, 'rows.', new Map(Object.entries(countRows(path))), 'rows in')];
      },
      async query(sql) {
        const db = new Database(path, { readonly: true, fileMustExist: true });
        try {
          return (db.prepare(sql).raw().all() as unknown[][]).map((row) => row.map((v) => (v === null ? '' : String(v))));
        } catch (err) {
          throw new AppError('INVALID_ARGUMENT', `the query failed: ${(err as Error).message}`);
        } finally {
          db.close();
        }
      },
      cleanup: async () => undefined,
    };
  },
  async restore(o, input, senv) {
    const { mkdirSync } = await import('node:fs');
    mkdirSync(dirname(o.path), { recursive: true });
    const tmp = join(dirname(o.path), `.${basename(o.path)}.strongbox-${randomBytes(6).toString('hex')}`);
    try {
      await pipeline(input, createWriteStream(tmp, { mode: 0o600 }));
      const fd = openSync(tmp, 'r+');
      fsyncSync(fd);
      closeSync(fd);
      const check = new Database(tmp, { readonly: true });
      try {
        const r = check.pragma('quick_check', { simple: true });
        if (r !== 'ok') throw new AppError('CORRUPT', `The restored SQLite database fails its check: ${String(r)}`);
      } finally {
        check.close();
      }
      // Leftover journal files of an older database would be applied to the new one.
      for (const suffix of ['-wal', '-shm', '-journal']) rmSync(o.path + suffix, { force: true });
      renameSync(tmp, o.path);
      const dfd = openSync(dirname(o.path), 'r');
      fsyncSync(dfd);
      closeSync(dfd);
      senv.log(`sqlite: restored ${o.path}`);
      return { tool: `SQLite ${sqliteVersion()}` };
    } finally {
      rmSync(tmp, { force: true });
    }
  },
};

/** Rows per user table of a SQLite database file. */
function countRows(file: string): Record<string, number> {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as { name: string }[];
    return Object.fromEntries(tables.map((t) => [t.name, (db.prepare(`SELECT count(*) AS n FROM "${t.name.replace(/"/g, '""')}"`).get() as { n: number }).n]));
  } finally {
    db.close();
  }
}

let version: string | undefined;
function sqliteVersion(): string {
  if (!version) {
    const db = new Database(':memory:');
    version = (db.prepare('select sqlite_version() as v').get() as { v: string }).v;
    db.close();
  }
  return version;
}
