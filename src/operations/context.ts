import { systemClock, type Clock, type ProgressSink } from '../kernel/index.js';
import type { Role } from '../catalog/index.js';
import type { Repository } from '../repo/index.js';
import { openRepository, type Instance } from '../app/index.js';
import { destinationTarget, type Target } from './repositories.js';

/**
 * What every operation is given: the instance (absent for a bare --repo on the
 * command line), the clock, and the repositories it may open. The CLI and the
 * server build one each; operations never open a repository any other way.
 */
export interface Env {
  inst: Instance | undefined;
  clock: Clock;
  repos: Repositories;
}

/** Who asks: the actor recorded in audit logs and pins, their role, and where from. */
export interface Caller {
  actor: string;
  role: Role;
  ip: string | null;
}

/** How a running operation reports and is stopped. The engine's events go to the sink; log lines to `log`. */
export interface RunContext {
  signal?: AbortSignal | undefined;
  sink?: ProgressSink | undefined;
  log?: ((line: string) => void) | undefined;
  /** The job it runs as, if any (a download names its spool file after it). */
  jobId?: string | undefined;
}

/**
 * Opening repositories, once per operation: `read` gives a handle for lookups
 * (the server keeps these open between requests: opening derives the key, slow
 * on purpose), `work` the handle an operation's run writes or reads data with.
 */
export interface Repositories {
  read<T>(t: Target, fn: (repo: Repository) => Promise<T>): Promise<T>;
  work<T>(t: Target, fn: (repo: Repository) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** Where an operation works: a destination of the instance by name (null: its default), or a repository given outright. */
export type Where = { destination: string | null } | { target: Target };

export async function targetOf(env: Env, where: Where): Promise<Target> {
  if ('target' in where) return where.target;
  return destinationTarget(needInstance(env), where.destination);
}

export function needInstance(env: Env): Instance {
  if (!env.inst) throw new Error('this operation needs an instance (a Strongbox home)');
  return env.inst;
}

const key = (t: Target) => `${t.name ?? ''}\u0000${t.location}`;

function open(t: Target): Promise<Repository> {
  return openRepository(t.location, t.password, { loadIndex: false, ...(t.credentials ? { credentials: t.credentials } : {}) });
}

/** Repositories kept open by location, each opened once (opening derives the key), closed together. */
abstract class KeptRepositories implements Repositories {
  private readonly open = new Map<string, Promise<Repository>>();

  async read<T>(t: Target, fn: (repo: Repository) => Promise<T>): Promise<T> {
    let p = this.open.get(key(t));
    if (!p) {
      p = open(t);
      this.open.set(key(t), p);
      p.catch(() => this.open.delete(key(t)));
    }
    return fn(await p);
  }

  abstract work<T>(t: Target, fn: (repo: Repository) => Promise<T>): Promise<T>;

  async close(): Promise<void> {
    for (const p of this.open.values()) await p.then((r) => r.close()).catch(() => undefined);
    this.open.clear();
  }
}

/**
 * The server's repositories: lookups share one handle per destination for the
 * life of the server; every job's run opens its own (jobs run side by side and
 * keep their own index and pack writers).
 */
export class ServerRepositories extends KeptRepositories {
  async work<T>(t: Target, fn: (repo: Repository) => Promise<T>): Promise<T> {
    const repo = await open(t);
    try {
      return await fn(repo);
    } finally {
      await repo.close();
    }
  }
}

/** One command's repositories: each is opened once, for lookups and work alike, and closed when the command ends. */
export class CommandRepositories extends KeptRepositories {
  work<T>(t: Target, fn: (repo: Repository) => Promise<T>): Promise<T> {
    return this.read(t, fn);
  }
}

export function makeEnv(inst: Instance | undefined, repos: Repositories, clock: Clock = systemClock): Env {
  return { inst, clock, repos };
}

/** Records an action in the instance's audit log (an instance-less --repo has none). */
export async function audit(env: Env, caller: Caller, action: string, target: string | null, outcome: string, details: Record<string, unknown> | null = null): Promise<void> {
  await env.inst?.audit.record({ time: env.clock.now().toISOString(), actor: caller.actor, action, target, ip: caller.ip, outcome, details });
}
