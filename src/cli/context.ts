import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { AppError, localActor, registerSecret } from '../kernel/index.js';
import { instanceHome, openInstance, type Instance } from '../app/index.js';
import { LocalOperations, type Operations, type Ui, type Where } from '../operations/index.js';
import { ApiClient } from '../api/client/client.js';
import { HttpOperations } from '../api/client/operations.js';
import { getPassword } from './password.js';
import { makeOutput, ProgressBar, type Output } from './render.js';

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

const hasInstance = () => existsSync(join(instanceHome(), 'catalog.sqlite'));

/**
 * Which repository a command works on, and its password: --repo (or STRONGBOX_REPO)
 * with a password from the flags, environment or a prompt; otherwise --destination
 * (or STRONGBOX_DESTINATION), or the instance's default destination, with the
 * password the destination refers to (explicit flags and environment still win).
 */
async function whereOf(cmd: Command, inst: Instance | undefined): Promise<Where> {
  const g = globals(cmd);
  const direct = g.repo ?? process.env.STRONGBOX_REPO;
  if (direct) return { target: { name: null, location: direct, password: await getPassword(g) } };
  const name = g.destination ?? process.env.STRONGBOX_DESTINATION;
  if (!inst) throw new AppError('USAGE', 'No repository given: use --repo LOCATION (or STRONGBOX_REPO), or add a destination with "strongbox destination add NAME LOCATION".');
  const dest = name ? await inst.destinations.get(name) : await inst.destinations.getDefault();
  if (!dest) throw new AppError('USAGE', 'No repository given and no default destination: use --repo, --destination NAME, or "strongbox destination default NAME".');
  return { target: { name: dest.name, location: dest.location, password: explicitPassword(g) ? await getPassword(g) : inst.resolvePassword(dest.password), credentials: inst.resolveCredentials(dest) } };
}

/** The server this command talks to (--server/STRONGBOX_SERVER with --token/STRONGBOX_TOKEN), or undefined to work locally. */
export function remote(cmd: Command): ApiClient | undefined {
  const g = globals(cmd) as { server?: string; token?: string };
  const url = g.server ?? process.env.STRONGBOX_SERVER;
  if (!url) return undefined;
  try {
    new URL(url);
  } catch {
    throw new AppError('USAGE', `--server ${url}: not a URL (e.g. http://127.0.0.1:8080).`);
  }
  const token = g.token ?? process.env.STRONGBOX_TOKEN;
  if (!token) throw new AppError('USAGE', `Talking to ${url} needs an API token: --token TOKEN or STRONGBOX_TOKEN (an admin creates one with "strongbox token create NAME").`);
  registerSecret(token);
  return new ApiClient(url, token);
}

/**
 * The operations a command calls: through the server with --server (or
 * STRONGBOX_SERVER), in this process otherwise — one interface, so a command
 * prints and exits the same either way. The local CLI acts as this machine's
 * admin: it can read the instance's key and catalog anyway.
 */
export function operations(cmd: Command): Operations {
  const c = remote(cmd);
  if (c) return new HttpOperations(c, globals(cmd).destination);
  const g = globals(cmd);
  return new LocalOperations({
    instance: async (create) => (create || (!(g.repo ?? process.env.STRONGBOX_REPO) && hasInstance()) ? openInstance() : undefined),
    where: (inst) => whereOf(cmd, inst),
    caller: { actor: localActor(), role: 'admin', ip: null },
  });
}

/** Runs a command body with its operations and output, and closes what it opened. */
export async function withOperations<T>(cmd: Command, fn: (ops: Operations, out: Output) => Promise<T>): Promise<T> {
  const ops = operations(cmd);
  try {
    return await fn(ops, output(cmd));
  } finally {
    await ops.close();
  }
}

/**
 * The action of a command that calls one operation and prints its answer:
 * the answer as JSON with --json, otherwise in words. Commander passes the
 * command's arguments, then its options, then the command itself (the last).
 */
export function answer<A extends unknown[], R>(call: (ops: Operations, ...args: A) => Promise<R>, words: (r: R, ...args: A) => string | string[]): (...all: A) => Promise<void> {
  return (...args) => {
    return withOperations(args[args.length - 1] as Command, async (ops, out) => {
      const r = await call(ops, ...args);
      if (out.json) return out.data(r);
      const w = words(r, ...args);
      for (const line of Array.isArray(w) ? w : [w]) out.out(line);
    });
  };
}

/**
 * The action of a command that calls one operation and draws its answer: the
 * answer (or `json` of it) as JSON with --json, otherwise `draw`.
 */
export function rendered<A extends unknown[], R>(call: (ops: Operations, ...args: A) => Promise<R>, draw: (out: Output, r: R, ops: Operations) => void, json: (r: R) => unknown = (r) => r): (...all: A) => Promise<void> {
  return (...args) =>
    withOperations(args[args.length - 1] as Command, async (ops, out) => {
      const r = await call(ops, ...args);
      if (out.json) out.data(json(r));
      else draw(out, r, ops);
    });
}

/** A progress bar and Ctrl-C for a long operation, cleared and released whatever happens. */
export async function withUi<T>(out: Output, label: string, fn: (ui: Ui) => Promise<T>): Promise<T> {
  const { signal, dispose } = interruptSignal();
  const bar = new ProgressBar(label, out);
  try {
    return await fn({ sink: bar, signal });
  } finally {
    bar.clear();
    dispose();
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
