import { spawn } from 'node:child_process';
import { childEnv, redactSecrets } from '../kernel/index.js';
import type { Readable, Writable } from 'node:stream';

/** The last `limit` bytes of a stream, kept as text (hook and tool output for logs). */
export class Tail {
  private chunks: Buffer[] = [];
  private size = 0;
  dropped = 0;
  constructor(private readonly limit = 64 * 1024) {}
  push(b: Buffer): void {
    this.chunks.push(b);
    this.size += b.length;
    while (this.size > this.limit && this.chunks.length > 1) {
      const first = this.chunks.shift()!;
      this.size -= first.length;
      this.dropped += first.length;
    }
  }
  text(): string {
    const all = Buffer.concat(this.chunks);
    const cut = all.length > this.limit ? all.subarray(all.length - this.limit) : all;
    return redactSecrets((this.dropped > 0 || cut.length < all.length ? '…' : '') + cut.toString('utf8'));
  }
}

export interface RunOptions {
  argv: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Milliseconds; the whole process group is killed when it passes. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Fed to stdin (then closed); otherwise stdin is /dev/null. */
  stdin?: Readable;
  /** Where stdout goes; otherwise it is captured. */
  stdout?: Writable;
  onLine?: (stream: 'stdout' | 'stderr', line: string) => void;
}

export interface RunResult {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  cancelled: boolean;
  /** The program could not be started (not found, not executable). */
  spawnError?: string;
  stdout: string;
  stderr: string;
  durationMs: number;
}

const KILL_GRACE_MS = 3000;

/**
 * Runs a program in its own process group, so that a timeout or a cancel kills
 * everything it started (SIGTERM, then SIGKILL after a grace period). Output
 * is captured (the last 64 KiB of each stream) and passed on line by line.
 */
export function runProcess(o: RunOptions): Promise<RunResult> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const out = new Tail();
    const err = new Tail();
    let timedOut = false;
    let cancelled = false;
    let settled = false;
    const child = spawn(o.argv[0]!, o.argv.slice(1), {
      env: o.env ?? childEnv(),
      cwd: o.cwd,
      detached: true,
      stdio: [o.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    });
    const killGroup = (sig: NodeJS.Signals) => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, sig);
      } catch {
        /* already gone */
      }
    };
    let hard: NodeJS.Timeout | undefined;
    const stop = () => {
      killGroup('SIGTERM');
      hard = setTimeout(() => killGroup('SIGKILL'), KILL_GRACE_MS);
      hard.unref();
    };
    const timer = o.timeoutMs !== undefined ? setTimeout(() => ((timedOut = true), stop()), o.timeoutMs) : undefined;
    const onAbort = () => ((cancelled = true), stop());
    o.signal?.addEventListener('abort', onAbort, { once: true });
    const lines = (name: 'stdout' | 'stderr', tail: Tail) => {
      let partial = '';
      return (b: Buffer) => {
        tail.push(b);
        if (!o.onLine) return;
        const text = partial + b.toString('utf8');
        const parts = text.split('\n');
        partial = parts.pop() ?? '';
        for (const l of parts) o.onLine(name, redactSecrets(l));
      };
    };
    if (o.stdout) child.stdout!.pipe(o.stdout);
    else child.stdout!.on('data', lines('stdout', out));
    child.stderr!.on('data', lines('stderr', err));
    if (o.stdin && child.stdin) {
      child.stdin.on('error', () => undefined);
      o.stdin.pipe(child.stdin);
    }
    const finish = (r: Partial<RunResult>) => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
      // Whatever the leader left behind in its group goes with it.
      if (timedOut || cancelled) killGroup('SIGKILL');
      else if (hard) clearTimeout(hard);
      resolve({
        exitCode: null,
        signal: null,
        ...r,
        timedOut,
        cancelled,
        stdout: out.text(),
        stderr: err.text(),
        durationMs: Math.round(performance.now() - t0),
      });
    };
    child.on('error', (e) => finish({ spawnError: (e as NodeJS.ErrnoException).code === 'ENOENT' ? `${o.argv[0]}: command not found` : e.message }));
    child.on('close', (code, sig) => finish({ exitCode: code, signal: sig }));
  });
}

export function describeExit(r: RunResult, timeoutMs?: number): string {
  if (r.spawnError) return r.spawnError;
  if (r.timedOut) return `timed out after ${formatMs(timeoutMs ?? r.durationMs)} and was killed`;
  if (r.cancelled) return 'cancelled';
  if (r.signal) return `killed by ${r.signal}`;
  return `exited with status ${r.exitCode}`;
}

export function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}
