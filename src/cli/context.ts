import type { Command } from 'commander';
import { AppError, localActor, systemClock } from '../kernel/index.js';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { codecPool, instanceHome, openInstance, withTarget, type BackendCredentials, type Instance } from '../app/index.js';
import type { CodecPool, Repository } from '../repo/index.js';
import { getPassword } from './password.js';
import { makeOutput, type Output } from './render.js';

export interface GlobalOptions {
  repo?: string;
  destination?: string;
  passwordFile?: string;
  json?: boolean;
  quiet?: boolean;
}

export function globals(cmd: Command): GlobalOptions {
  return cmd.optsWithGlobals<GlobalOptions>();
}

export function output(cmd: Command): Output {
  const g = globals(cmd);
  return makeOutput(!!g.json, !!g.quiet);
}

export function repoLocation(cmd: Command): string {
  const loc = globals(cmd).repo ?? process.env.STRONGBOX_REPO ?? '';
  if (!loc) throw new AppError('USAGE', 'No repository given: use --repo LOCATION or set STRONGBOX_REPO.');
  return loc;
}

function explicitPassword(g: GlobalOptions): boolean {
  return !!g.passwordFile || !!process.env.STRONGBOX_PASSWORD || !!process.env.STRONGBOX_PASSWORD_FILE;
}

/**
 * Which repository a command works on, and its password: --repo (or STRONGBOX_REPO)
 * with a password from the flags, environment or a prompt; otherwise --destination
 * (or STRONGBOX_DESTINATION), or the instance's default destination, with the
 * password the destination refers to (explicit flags and environment still win).
 */
export async function resolveRepo(cmd: Command): Promise<{ location: string; password: string; credentials?: BackendCredentials }> {
  const g = globals(cmd);
  if ((g as { server?: string }).server ?? process.env.STRONGBOX_SERVER) {
    throw new AppError('USAGE', `"${cmd.parent?.name() ?? ''} ${cmd.name()}" works on the machine that holds the repository, not through a server: run it there without --server (or unset STRONGBOX_SERVER).`);
  }
  const direct = g.repo ?? process.env.STRONGBOX_REPO;
  if (direct) return { location: direct, password: await getPassword(g) };
  const name = g.destination ?? process.env.STRONGBOX_DESTINATION;
  if (!name && !existsSync(join(instanceHome(), 'catalog.sqlite'))) {
    throw new AppError('USAGE', 'No repository given: use --repo LOCATION (or STRONGBOX_REPO), or add a destination with "strongbox destination add NAME LOCATION".');
  }
  const inst = await openInstance();
  try {
    const dest = name ? await inst.destinations.get(name) : await inst.destinations.getDefault();
    if (!dest) throw new AppError('USAGE', 'No repository given and no default destination: use --repo, --destination NAME, or "strongbox destination default NAME".');
    return { location: dest.location, password: explicitPassword(g) ? await getPassword(g) : inst.resolvePassword(dest.password), credentials: inst.resolveCredentials(dest) };
  } finally {
    await inst.close();
  }
}

export async function withRepo<T>(cmd: Command, fn: (repo: Repository) => Promise<T>, opts: { loadIndex?: boolean } = {}): Promise<T> {
  return withTarget({ name: null, ...(await resolveRepo(cmd)) }, fn, { loadIndex: opts.loadIndex ?? true });
}

export async function withPool<T>(repo: Repository, fn: (pool: CodecPool) => Promise<T>): Promise<T> {
  const pool = codecPool(repo);
  try {
    return await fn(pool);
  } finally {
    await pool.close();
  }
}

/**
 * An AbortSignal fired by Ctrl-C (SIGINT) or SIGTERM: long commands stop at the
 * next safe point, leave the repository consistent and exit 130. A second
 * Ctrl-C exits at once.
 */
export function interruptSignal(): { signal: AbortSignal; dispose: () => void } {
  const ac = new AbortController();
  let count = 0;
  const handler = () => {
    count++;
    if (count === 1) {
      process.stderr.write('\nInterrupted: stopping at a safe point (Ctrl-C again to exit now)…\n');
      ac.abort();
    } else process.exit(130);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    signal: ac.signal,
    dispose: () => {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}

export function parseCount(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new AppError('USAGE', `${name} expects a whole number ≥ 0, got "${v}".`);
    return n;
  };
}

export function collect(v: string, prev: string[] = []): string[] {
  return [...prev, v];
}

/**
 * Wraps a command body that works on an opened repository: resolves the output
 * mode, opens the repository (by default without loading the index, which only
 * data-reading commands need) and passes the command's own arguments through.
 */
export function repoAction<A extends unknown[]>(
  body: (c: { repo: Repository; out: Output; cmd: Command }, ...args: A) => Promise<void>,
  opts: { loadIndex?: boolean } = { loadIndex: false },
): (...all: [...A, Command]) => Promise<void> {
  return async (...all) => {
    const cmd = all[all.length - 1] as Command;
    const out = output(cmd);
    await withRepo(cmd, (repo) => body({ repo, out, cmd }, ...(all.slice(0, -1) as A)), opts);
  };
}

/** Set by a command whose work succeeded only in part; main exits with it. */
export const outcome = { exitCode: 0 };

/** Opens the instance for the length of a command. */
export async function withInstance<T>(fn: (inst: Instance) => Promise<T>): Promise<T> {
  const inst = await openInstance();
  try {
    return await fn(inst);
  } finally {
    await inst.close();
  }
}

/**
 * Records a local command's change in the instance's audit log, as the server
 * records its own — when the repository is one of this instance's destinations
 * (a bare --repo has no instance, and so no log).
 */
export async function auditLocal(cmd: Command, action: string, target: string | null, details: Record<string, unknown> | null = null): Promise<void> {
  const g = globals(cmd);
  if (g.repo ?? process.env.STRONGBOX_REPO) return;
  if (!existsSync(join(instanceHome(), 'catalog.sqlite'))) return;
  await withInstance((i) => i.audit.record({ time: systemClock.now().toISOString(), actor: localActor(), action, target, ip: null, outcome: 'ok', details }));
}
