import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';
import { AppError, childEnv, redactSecrets } from '../kernel/index.js';
import { Tail } from '../hooks/index.js';

/** SIGKILL for a child and everything it started (it runs in its own process group). */
function groupKiller(child: ChildProcess): () => void {
  return () => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  };
}

function startError(argv: string[], what: string, e: Error): AppError {
  return new AppError('INVALID_ARGUMENT', (e as NodeJS.ErrnoException).code === 'ENOENT' ? `${argv[0]} is not installed (needed to ${what}); install it or put it on PATH.` : `${argv[0]}: ${e.message}`, { cause: e });
}

/** Runs a dump tool and exposes its stdout; `done` rejects with the tool's own words when it fails. */
export function spawnProducer(argv: string[], env: NodeJS.ProcessEnv, what: string, signal?: AbortSignal): { stream: Readable; done: Promise<void> } {
  const child = spawn(argv[0]!, argv.slice(1), { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const err = new Tail(16 * 1024);
  child.stderr!.on('data', (b: Buffer) => err.push(b));
  const kill = groupKiller(child);
  signal?.addEventListener('abort', kill, { once: true });
  const done = new Promise<void>((resolve, reject) => {
    child.on('error', (e) => reject(startError(argv, what, e)));
    child.on('close', (code, sig) => {
      signal?.removeEventListener('abort', kill);
      if (code === 0) resolve();
      else reject(new AppError('INTERNAL', `${argv[0]} failed to ${what} (${sig ? `killed by ${sig}` : `exit status ${code}`}): ${lastLines(err.text())}`));
    });
  });
  // A consumer that gives up (a repository error) must not leave the tool blocked on a full pipe.
  child.stdout!.on('close', () => undefined);
  return { stream: child.stdout!, done };
}

/** Runs a tool that reads the artifact on stdin (a restore). */
export function spawnConsumer(argv: string[], env: NodeJS.ProcessEnv, input: Readable, what: string, signal?: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { env, detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
    const out = new Tail(16 * 1024);
    child.stdout!.on('data', (b: Buffer) => out.push(b));
    child.stderr!.on('data', (b: Buffer) => out.push(b));
    const kill = groupKiller(child);
    signal?.addEventListener('abort', kill, { once: true });
    let inputError: Error | undefined;
    input.on('error', (e) => {
      inputError = e;
      kill();
    });
    child.stdin!.on('error', () => undefined);
    input.pipe(child.stdin!);
    child.on('error', (e) => reject(startError(argv, what, e)));
    child.on('close', (code, sig) => {
      signal?.removeEventListener('abort', kill);
      if (inputError) reject(inputError);
      else if (code === 0) resolve(out.text());
      else reject(new AppError('RESTORE_INCOMPLETE', `${argv[0]} failed to ${what} (${sig ? `killed by ${sig}` : `exit status ${code}`}): ${lastLines(out.text())}`));
    });
  });
}

/** Runs a short command and returns its output; throws with its stderr when it fails. */
export function runQuick(argv: string[], env: NodeJS.ProcessEnv, input?: string): { ok: boolean; stdout: string; stderr: string; missing: boolean } {
  const r = spawnSync(argv[0]!, argv.slice(1), { env, input, encoding: 'utf8', timeout: 60_000 });
  const missing = (r.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
  return { ok: r.status === 0, stdout: r.stdout ?? '', stderr: (r.stderr ?? '') + (r.error && !missing ? r.error.message : ''), missing };
}

/** The first line of `tool --version`, or undefined when the tool is missing. */
export function toolVersion(tool: string): string | undefined {
  const r = runQuick([tool, '--version'], childEnv());
  return r.missing || !r.ok ? undefined : r.stdout.trim().split('\n')[0];
}

/** The major version number in a `--version` line ("pg_dump (PostgreSQL) 15.19" → 15). */
export function majorOf(versionLine: string | undefined): number | undefined {
  const m = /(\d+)\.(\d+)/.exec(versionLine ?? '');
  return m ? Number(m[1]) : undefined;
}

export function lastLines(text: string, n = 6): string {
  const lines = redactSecrets(text).trim().split('\n').filter((l) => l.trim() !== '');
  return lines.slice(-n).join(' | ') || '(no output)';
}
