import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { appendFileSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, connect } from 'node:net';
import { basename, dirname, join } from 'node:path';
import { AppError, childEnv, systemClock } from '../kernel/index.js';

/**
 * Throwaway servers for restore drills: started from this machine's installed
 * server binaries in a scratch directory, on a free loopback port, owned by
 * the drill. Every process started is recorded in scratch/pids (its process
 * group), so `sweepDrillLeftovers` finds and ends what a killed drill left.
 */

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

const isRoot = process.getuid?.() === 0;

function record(scratch: string, pid: number | undefined): void {
  if (pid !== undefined) appendFileSync(join(scratch, 'pids'), `${pid}\n`);
}

/**
 * A directory outside the scratch directory (one another user must reach), removed with it.
 * Its name carries the drill's id (scratch is DRILLS/ID/APP/COMPONENT), so whose it is shows.
 */
function outsideDir(scratch: string, what: string): string {
  const drill = basename(dirname(dirname(scratch))).replace(/[^0-9a-z]/g, '').slice(0, 24);
  const dir = mkdtempSync(join(tmpdir(), `strongbox-drill-${drill ? `${drill}-` : ''}${what}-`));
  appendFileSync(join(scratch, 'dirs'), `${dir}\n`);
  return dir;
}

/** Ends a process group recorded by a drill (it runs detached: its pid is its group). */
function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

/**
 * Ends every process a drill recorded under `root` and removes its scratch
 * directory: after a cancel, a crash or SIGKILL, on the next start. Returns
 * the directories removed.
 */
export function sweepDrillLeftovers(root: string, keep: ReadonlySet<string> = new Set()): string[] {
  if (!existsSync(root)) return [];
  const removed: string[] = [];
  for (const name of readdirSync(root)) {
    if (keep.has(name)) continue;
    const dir = join(root, name);
    // Each component's target records what it started in its own directory (pids, dirs files).
    const lines = (file: string) => {
      const found: string[] = [];
      const walk = (d: string, depth: number) => {
        let entries: import('node:fs').Dirent[];
        try {
          entries = readdirSync(d, { withFileTypes: true });
        } catch {
          return;
        }
        for (const e of entries) {
          if (e.isFile() && e.name === file) {
            try {
              found.push(...readFileSync(join(d, e.name), 'utf8').split('\n').filter(Boolean));
            } catch {
              /* unreadable: nothing to end */
            }
          } else if (e.isDirectory() && depth < 4) walk(join(d, e.name), depth + 1);
        }
      };
      walk(dir, 0);
      return found;
    };
    for (const pid of lines('pids').map(Number).filter((n) => Number.isInteger(n) && n > 1)) killGroup(pid);
    for (const d of lines('dirs')) if (d.startsWith(join(tmpdir(), 'strongbox-drill-'))) rmSync(d, { recursive: true, force: true, maxRetries: 3 });
    rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
    removed.push(dir);
  }
  return removed;
}

/** The uid/gid a server that refuses root runs as (PostgreSQL): the "postgres" system user. */
function serviceUser(name: string): { uid: number; gid: number } | undefined {
  if (!isRoot) return undefined;
  const u = spawnSync('id', ['-u', name], { encoding: 'utf8' });
  const g = spawnSync('id', ['-g', name], { encoding: 'utf8' });
  if (u.status !== 0) throw new AppError('INVALID_ARGUMENT', `A drill runs PostgreSQL as the "${name}" user when Strongbox runs as root, and there is none; install the PostgreSQL server package (it creates it).`);
  return { uid: Number(u.stdout.trim()), gid: Number(g.stdout.trim()) };
}

async function waitUntil(what: string, check: () => Promise<boolean> | boolean, ms: number, signal?: AbortSignal): Promise<void> {
  const end = systemClock.now().getTime() + ms;
  for (;;) {
    if (signal?.aborted) throw new AppError('CANCELLED', 'Cancelled.');
    if (await check()) return;
    if (systemClock.now().getTime() > end) throw new AppError('INTERNAL', `${what} did not start within ${ms / 1000} s.`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1', () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

export interface Throwaway {
  port: number;
  stop(): Promise<void>;
}

/** Ends a throwaway server's process group and waits for it; safe to call twice. */
function stopper(child: ChildProcess): () => Promise<void> {
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return async () => {
    if (child.exitCode === null && child.signalCode === null) {
      killGroup(child.pid!);
      await exited;
    }
  };
}

/** The PostgreSQL server binaries of a major version, or a clear error naming the package. */
export function postgresBin(major: number): string {
  const dir = `/usr/lib/postgresql/${major}/bin`;
  if (!existsSync(join(dir, 'postgres')) || !existsSync(join(dir, 'initdb'))) {
    throw new AppError('INVALID_ARGUMENT', `The drill needs a PostgreSQL ${major} server (the dump's server major version) to restore into, and ${dir} has none; install it (Debian: postgresql-${major}).`);
  }
  return dir;
}

/** A PostgreSQL server of `major` in scratch/pg, trusting local connections, on a free port. */
export async function startPostgres(major: number, scratch: string, signal?: AbortSignal): Promise<Throwaway> {
  const bin = postgresBin(major);
  // PostgreSQL refuses to run as root: as root, its files are the "postgres" user's, outside the (private) scratch directory.
  const owner = serviceUser('postgres');
  const root = owner ? outsideDir(scratch, 'pg') : join(scratch, `pg-${major}`);
  const data = join(root, 'data');
  mkdirSync(data, { recursive: true, mode: 0o700 });
  if (owner) {
    chownSync(root, owner.uid, owner.gid);
    chownSync(data, owner.uid, owner.gid);
  }
  const as = owner ? { uid: owner.uid, gid: owner.gid } : {};
  const init = spawnSync(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C.UTF-8', '--no-sync'], { encoding: 'utf8', env: childEnv(), ...as });
  if (init.status !== 0) throw new AppError('INTERNAL', `initdb for the drill failed: ${(init.stderr || init.error?.message || '').trim().split('\n').slice(-3).join(' | ')}`);
  const port = await freePort();
  const child = spawn(join(bin, 'postgres'), ['-D', data, '-p', String(port), '-k', root, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'], { detached: true, stdio: 'ignore', env: childEnv(), ...as });
  record(scratch, child.pid);
  const stop = stopper(child);
  try {
    await waitUntil(`PostgreSQL ${major} for the drill`, async () => (await portOpen(port)) && spawnSync('psql', ['-X', '-At', '-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-d', 'postgres', '-c', 'SELECT 1'], { encoding: 'utf8', env: childEnv() }).status === 0, 60_000, signal);
  } catch (err) {
    killGroup(child.pid!);
    throw err;
  }
  return {
    port,
    stop,
  };
}

/** A MariaDB (or MySQL) server in scratch/mysql on a free port, root without a password over TCP. */
export async function startMysql(scratch: string, signal?: AbortSignal): Promise<Throwaway> {
  const install = ['/usr/bin/mariadb-install-db', '/usr/bin/mysql_install_db'].find((p) => existsSync(p));
  const server = ['/usr/sbin/mariadbd', '/usr/sbin/mysqld'].find((p) => existsSync(p));
  if (!install || !server) throw new AppError('INVALID_ARGUMENT', 'The drill needs a MariaDB server to restore into, and none is installed; install it (Debian: mariadb-server).');
  const root = join(scratch, 'mysql');
  const data = join(root, 'data');
  mkdirSync(root, { recursive: true });
  const user = isRoot ? 'root' : (process.env.USER ?? 'root');
  const init = spawnSync(install, ['--no-defaults', `--datadir=${data}`, `--user=${user}`, '--auth-root-authentication-method=normal', '--skip-test-db'], { encoding: 'utf8', env: childEnv() });
  if (init.status !== 0) throw new AppError('INTERNAL', `mariadb-install-db for the drill failed: ${(init.stderr || '').trim().split('\n').slice(-3).join(' | ')}`);
  const port = await freePort();
  const child = spawn(server, ['--no-defaults', `--datadir=${data}`, `--port=${port}`, '--bind-address=127.0.0.1', `--socket=${join(root, 'sock')}`, `--user=${user}`, `--pid-file=${join(root, 'pid')}`, '--innodb-buffer-pool-size=64M', '--skip-log-bin', `--log-error=${join(root, 'err.log')}`, '--innodb-flush-log-at-trx-commit=0'], { detached: true, stdio: 'ignore', env: childEnv() });
  record(scratch, child.pid);
  const stop = stopper(child);
  try {
    await waitUntil('MariaDB for the drill', async () => (await portOpen(port)) && spawnSync('mariadb', ['--no-defaults', '-h', '127.0.0.1', '-P', String(port), '-u', 'root', '-e', 'SELECT 1'], { encoding: 'utf8', env: childEnv() }).status === 0, 60_000, signal);
  } catch (err) {
    killGroup(child.pid!);
    throw err;
  }
  return {
    port,
    stop,
  };
}

/** A Redis server loading `dir/dbfilename`, on a free port; resolves once the data is loaded. */
export async function startRedis(dir: string, dbfilename: string, scratch: string, signal?: AbortSignal): Promise<Throwaway & { cli(...args: string[]): string }> {
  const server = ['/usr/bin/redis-server', '/usr/local/bin/redis-server'].find((p) => existsSync(p));
  if (!server) throw new AppError('INVALID_ARGUMENT', 'The drill needs redis-server to load the RDB, and it is not installed; install it (Debian: redis-server).');
  const port = await freePort();
  const child = spawn(server, ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--dbfilename', dbfilename, '--save', '', '--appendonly', 'no'], { detached: true, stdio: 'ignore', env: childEnv() });
  record(scratch, child.pid);
  const stop = stopper(child);
  const cli = (...args: string[]) => {
    const r = spawnSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { encoding: 'utf8', env: childEnv() });
    if (r.status !== 0) throw new AppError('INTERNAL', `redis-cli: ${r.stderr.trim()}`);
    return r.stdout;
  };
  try {
    await waitUntil('Redis for the drill', async () => {
      if (child.exitCode !== null) throw new AppError('CORRUPT', 'redis-server refused to load the restored RDB file (it exited).');
      return (await portOpen(port)) && !/loading:1/.test(cli('INFO', 'persistence'));
    }, 60_000, signal);
  } catch (err) {
    killGroup(child.pid!);
    throw err;
  }
  return {
    port,
    cli,
    stop,
  };
}

/** Compares recorded counts (info keys `PREFIX.NAME`) with the ones found; each becomes a check. */
export function compareCounts(info: Record<string, unknown>, prefix: string, found: Map<string, number>, what: string): { name: string; ok: boolean; expected?: string; actual?: string }[] {
  const recorded = Object.entries(info).filter(([k]) => k.startsWith(prefix)).map(([k, v]) => [k.slice(prefix.length), Number(v)] as const);
  if (recorded.length === 0) return [{ name: `${what}: ${[...found].map(([k, n]) => `${k} ${n}`).join(', ') || 'none'} (no counts were recorded at backup to compare with)`, ok: true }];
  return recorded.map(([name, n]) => {
    const got = found.get(name);
    return { name: `${what} ${name}`, ok: got === n, expected: String(n), actual: got === undefined ? 'missing' : String(got) };
  });
}
