import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync } from 'node:fs';
import { connect } from 'node:net';
import * as path from 'node:path';
import { tmp } from './cli.js';

/**
 * Throwaway database servers for restore tests, started from the installed
 * binaries in a temporary directory on a free loopback port, so a test can back
 * up server A and restore into a clean server B. A missing binary fails the
 * test (it is a prerequisite that .ci/run installs), never skips it.
 */
import { freePort } from '../../../src/sources/throwaway.js';

export { freePort };

const isRoot = process.getuid?.() === 0;
const stops: (() => void)[] = [];
process.once('exit', () => {
  for (const s of stops) s();
});

function need(bin: string): string {
  if (!existsSync(bin)) throw new Error(`${bin} is missing: the tests need the installed server binaries (.ci/run installs them)`);
  return bin;
}

/** Runs as `user` when we are root (PostgreSQL refuses to run as root). */
function runAs(user: string, argv: string[]) {
  const full = isRoot ? ['setpriv', `--reuid=${user}`, `--regid=${user}`, '--init-groups', '--', ...argv] : argv;
  return spawnSync(full[0]!, full.slice(1), { encoding: 'utf8' });
}

function owned(dir: string, user: string): void {
  if (!isRoot) return;
  const id = spawnSync('id', ['-u', user], { encoding: 'utf8' });
  const gid = spawnSync('id', ['-g', user], { encoding: 'utf8' });
  chownSync(dir, Number(id.stdout.trim()), Number(gid.stdout.trim()));
}

async function waitFor(what: string, check: () => Promise<boolean> | boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not start within ${ms / 1000}s`);
}

export interface PgServer {
  port: number;
  url(db: string, user?: string): string;
  psql(db: string, sql: string, user?: string): string;
  stop(): void;
}

const PG_BIN = '/usr/lib/postgresql/15/bin';

export async function startPostgres(opts: { passwordFor?: { user: string; password: string } } = {}): Promise<PgServer> {
  const root = tmp('sb-pg-');
  const data = path.join(root, 'data');
  mkdirSync(data, { mode: 0o700 });
  owned(root, 'postgres');
  owned(data, 'postgres');
  chmodSync(root, 0o755);
  const init = runAs('postgres', [need(`${PG_BIN}/initdb`), '-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C.UTF-8']);
  if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr}`);
  const port = await freePort();
  const pg = runAs('postgres', [`${PG_BIN}/pg_ctl`, '-D', data, '-l', path.join(root, 'log'), '-w', '-o', `-p ${port} -k ${root} -c listen_addresses=127.0.0.1 -c fsync=off`, 'start']);
  if (pg.status !== 0) throw new Error(`pg_ctl start failed: ${pg.stderr}${pg.stdout}`);
  const stop = () => void runAs('postgres', [`${PG_BIN}/pg_ctl`, '-D', data, '-m', 'immediate', 'stop']);
  stops.push(stop);
  const psql = (db: string, sql: string, user = 'postgres') => {
    const r = spawnSync('psql', ['-X', '-At', '-v', 'ON_ERROR_STOP=1', '-h', '127.0.0.1', '-p', String(port), '-U', user, '-d', db, '-c', sql], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`psql failed: ${r.stderr}`);
    return r.stdout.trim();
  };
  if (opts.passwordFor) {
    const { user, password } = opts.passwordFor;
    psql('postgres', `CREATE ROLE ${user} LOGIN CREATEDB PASSWORD '${password}'`);
    // From now on, that user must give its password over TCP.
    spawnSync('sh', ['-c', `printf 'local all all trust\\nhost all postgres 127.0.0.1/32 trust\\nhost all all 127.0.0.1/32 scram-sha-256\\n' > ${data}/pg_hba.conf`]);
    psql('postgres', 'SELECT pg_reload_conf()');
  }
  return { port, url: (db, user = 'postgres') => `postgres://${user}@127.0.0.1:${port}/${db}`, psql, stop };
}

export interface MariaServer {
  port: number;
  url(db: string): string;
  sql(sql: string, db?: string): string;
  stop(): void;
}

export async function startMariadb(): Promise<MariaServer> {
  const root = tmp('sb-maria-');
  const data = path.join(root, 'data');
  const sock = path.join(root, 'sock');
  const user = isRoot ? 'root' : (process.env.USER ?? 'root');
  const init = spawnSync(need('/usr/bin/mariadb-install-db'), ['--no-defaults', `--datadir=${data}`, `--user=${user}`, '--auth-root-authentication-method=normal', '--skip-test-db'], { encoding: 'utf8' });
  if (init.status !== 0) throw new Error(`mariadb-install-db failed: ${init.stderr}`);
  const port = await freePort();
  const child: ChildProcess = spawn(
    need('/usr/sbin/mariadbd'),
    ['--no-defaults', `--datadir=${data}`, `--port=${port}`, '--bind-address=127.0.0.1', `--socket=${sock}`, `--user=${user}`, `--pid-file=${root}/pid`, '--innodb-buffer-pool-size=32M', '--skip-log-bin', `--log-error=${root}/err.log`],
    { stdio: 'ignore' },
  );
  const stop = () => {
    child.kill('SIGKILL');
  };
  stops.push(stop);
  const sql = (q: string, db?: string) => {
    const r = spawnSync('mariadb', ['--no-defaults', '-h', '127.0.0.1', '-P', String(port), '-u', 'root', '-N', '-B', '-e', q, ...(db ? [db] : [])], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`mariadb failed: ${r.stderr}`);
    return r.stdout.trim();
  };
  await waitFor('mariadbd', () => {
    try {
      sql('SELECT 1');
      return true;
    } catch {
      return false;
    }
  });
  return { port, url: (db) => `mysql://root@127.0.0.1:${port}/${db}`, sql, stop };
}

export interface RedisServer {
  port: number;
  dir: string;
  url: string;
  cli(...args: string[]): string;
  stop(): Promise<void>;
}

export async function startRedis(opts: { dir?: string; dbfilename?: string } = {}): Promise<RedisServer> {
  const dir = opts.dir ?? tmp('sb-redis-');
  const port = await freePort();
  const child = spawn(need('/usr/bin/redis-server'), ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--dbfilename', opts.dbfilename ?? 'dump.rdb', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  stops.push(() => child.kill('SIGKILL'));
  await waitFor(
    'redis-server',
    () =>
      new Promise<boolean>((resolve) => {
        const s = connect(port, '127.0.0.1', () => {
          s.destroy();
          resolve(true);
        });
        s.on('error', () => resolve(false));
      }),
  );
  const cli = (...args: string[]) => {
    const r = spawnSync('redis-cli', ['-p', String(port), '--no-raw', ...args], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`redis-cli failed: ${r.stderr}`);
    return r.stdout.trim();
  };
  await waitFor('redis loading', () => !/loading:1/.test(cli('INFO', 'persistence')));
  return {
    port,
    dir,
    url: `redis://127.0.0.1:${port}`,
    cli,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}
