import { mkdirSync, createWriteStream, closeSync, fsyncSync, openSync, readSync, renameSync, rmSync, statSync, accessSync, constants } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { z } from 'zod';
import { AppError } from '../../kernel/index.js';
import { resolveSecret, safeUrl, secretRefSchema, urlSchema } from '../secrets.js';
import { RdbKeyCounter } from './rdb-keys.js';
import type { ComponentKind, DrillTarget, PreflightReport } from '../source.js';
import { compareCounts, startRedis } from '../throwaway.js';
import { parseRedisUrl, RedisConnection, type Reply } from './resp.js';

export const redisOptions = z.strictObject({
  url: urlSchema(['redis'], 'redis://127.0.0.1:6379'),
  passwordFrom: secretRefSchema.optional(),
  rdbPath: z.string().startsWith('/', 'use an absolute path').optional().describe('Where a restore writes the RDB file: the target server\'s dir + dbfilename, with that server stopped.'),
});
export type RedisOptions = z.infer<typeof redisOptions>;

function infoField(info: Reply, field: string): string | undefined {
  const text = Buffer.isBuffer(info) ? info.toString('utf8') : '';
  return new RegExp(`^${field}:(.*)$`, 'm').exec(text)?.[1]?.trim();
}

/**
 * Redis through its replication protocol: Strongbox asks the server for a
 * full resync as an RDB-only replica and streams the point-in-time RDB the
 * server produces (the whole server: every logical database). Nothing is
 * written on the server's disk when it syncs disklessly. A restore writes the
 * RDB file where a stopped target server will load it at start (`rdbPath`).
 */
export const redisKind: ComponentKind<RedisOptions> = {
  kind: 'redis',
  schema: redisOptions,
  shape: 'stream',
  artifact: 'dump.rdb',
  mappable: ['url', 'rdbPath', 'passwordFrom.env', 'passwordFrom.file'],
  describe: (o) => safeUrl(o.url),
  async backup(o, senv) {
    const conn = await RedisConnection.open(parseRedisUrl(o.url, resolveSecret(o.passwordFrom, 'Redis password')));
    const info = await conn.command(['INFO', 'server']);
    if (typeof info === 'object' && info !== null && 'error' in info) {
      conn.close();
      throw new AppError('PERMISSION_DENIED', `Redis at ${safeUrl(o.url)} refused INFO: ${info.error}`);
    }
    const version = infoField(info, 'redis_version') ?? 'unknown';
    senv.log(`redis: server ${version} at ${safeUrl(o.url)}; requesting an RDB`);
    const rdb = await conn.rdbStream();
    // Keys per database counted in the RDB itself as it passes: exactly the data set Redis forked for this backup.
    const counter = new RdbKeyCounter();
    const stream = counter.transform();
    rdb.on('error', (err) => stream.destroy(err));
    rdb.pipe(stream);
    const onAbort = () => stream.destroy(new AppError('CANCELLED', 'Cancelled.'));
    senv.signal?.addEventListener('abort', onAbort, { once: true });
    const done = new Promise<Record<string, string | number>>((resolve, reject) => {
      stream.on('end', () => {
        const keys = counter.result();
        if ('why' in keys) senv.log(`redis: keys not counted (${keys.why}); a drill will not compare key counts`);
        resolve({ serverVersion: version, format: 'RDB (replication full sync)', ...('counts' in keys ? Object.fromEntries([...keys.counts].map(([db, n]) => [`keys.${db}`, n])) : {}) });
      });
      stream.on('error', reject);
      stream.on('close', () => senv.signal?.removeEventListener('abort', onAbort));
    });
    return { stream, done };
  },
  async preflight(o, _senv, info, force) {
    const report: PreflightReport = { target: o.rdbPath ?? safeUrl(o.url), problems: [], plan: [] };
    if (!o.rdbPath) {
      report.problems.push(
        'a Redis restore writes an RDB file for a stopped server to load: give its path with --map NAME.rdbPath=/var/lib/redis/dump.rdb (the server\'s dir and dbfilename), or set redis.rdbPath in the spec',
      );
      return report;
    }
    const dir = dirname(o.rdbPath);
    try {
      accessSync(dir, constants.W_OK);
    } catch {
      report.problems.push(`cannot write into ${dir}; create it or choose another rdbPath`);
      return report;
    }
    let size = -1;
    try {
      size = statSync(o.rdbPath).size;
    } catch {
      /* absent */
    }
    const then = `then start redis-server with --dir ${dir} --dbfilename ${basename(o.rdbPath)} (server ${String(info.serverVersion ?? '?')} wrote it; a server of that version or newer reads it)`;
    if (size < 0) report.plan.push(`write the RDB to ${o.rdbPath}; ${then}`);
    else if (force) report.plan.push(`replace ${o.rdbPath} (${size} bytes; --force) — stop the server that uses it first; ${then}`);
    else report.problems.push(`${o.rdbPath} already exists (${size} bytes); choose another path with --map NAME.rdbPath=FILE, or add --force after stopping the server that uses it`);
    return report;
  },
  async drillTarget(info, scratch, senv) {
    const dir = join(scratch, 'redis');
    mkdirSync(dir, { recursive: true });
    let server: Awaited<ReturnType<typeof startRedis>> | undefined;
    const target: DrillTarget = {
      // The URL is the throwaway server's, started on the RDB once it is written.
      options: { url: 'redis://127.0.0.1:1', rdbPath: join(dir, 'dump.rdb') },
      async verify() {
        server = await startRedis(dir, 'dump.rdb', scratch, senv.signal);
        target.connection = { STRONGBOX_DRILL_URL: `redis://127.0.0.1:${server.port}`, STRONGBOX_DRILL_PATH: join(dir, 'dump.rdb') };
        const found = new Map<string, number>();
        for (const line of server.cli('INFO', 'keyspace').split('\n')) {
          const m = /^(db\d+):keys=(\d+)/.exec(line.trim());
          if (m) found.set(m[1]!, Number(m[2]));
        }
        return [{ name: 'redis-server loads the RDB', ok: true, actual: `server ${String(info.serverVersion ?? '?')} wrote it` }, ...compareCounts(info, 'keys.', found, 'keys')];
      },
      cleanup: async () => server?.stop(),
    };
    return target;
  },
  async restore(o, input, senv) {
    if (!o.rdbPath) throw new AppError('INVALID_ARGUMENT', 'No rdbPath to restore the Redis data to.');
    const tmp = join(dirname(o.rdbPath), `.${basename(o.rdbPath)}.strongbox-${randomBytes(6).toString('hex')}`);
    try {
      await pipeline(input, createWriteStream(tmp, { mode: 0o600 }));
      const fd = openSync(tmp, 'r+');
      const magic = Buffer.alloc(5);
      readSync(fd, magic, 0, 5, 0);
      if (magic.toString('latin1') !== 'REDIS') throw new AppError('CORRUPT', 'The restored Redis data is not an RDB file (no REDIS header).');
      fsyncSync(fd);
      closeSync(fd);
      renameSync(tmp, o.rdbPath);
      const dfd = openSync(dirname(o.rdbPath), 'r');
      fsyncSync(dfd);
      closeSync(dfd);
      senv.log(`redis: wrote ${o.rdbPath}; start the server on it (--dir ${dirname(o.rdbPath)} --dbfilename ${basename(o.rdbPath)})`);
      return { rdbPath: o.rdbPath };
    } finally {
      rmSync(tmp, { force: true });
    }
  },
};
