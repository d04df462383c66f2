import type { Command } from 'commander';
import { AppError, registerSecret } from '../kernel/index.js';
import { ApiClient } from '../api/client/client.js';
import type { JobRecord } from '../jobs/index.js';
import { globals } from './context.js';
import { formatBytes, ProgressBar, type Output } from './render.js';

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

/** Commands that exist only on a server (jobs, schedules). */
export function serverOnly(cmd: Command, what: string): ApiClient {
  const c = remote(cmd);
  if (!c) throw new AppError('USAGE', `${what} live on the Strongbox server: give --server URL --token TOKEN (or STRONGBOX_SERVER and STRONGBOX_TOKEN), and run "strongbox serve" there.`);
  return c;
}

/** Commands that work on this machine only. */
export function localOnly(cmd: Command, what: string): void {
  if (remote(cmd)) throw new AppError('USAGE', `${what} works on the machine that holds the data; run it there without --server (or unset STRONGBOX_SERVER).`);
}

/**
 * Follows a job's events to its end: a progress bar and its log lines on a
 * terminal, the log lines otherwise, JSON lines with --json. Ctrl-C stops
 * watching (the job goes on; "strongbox job cancel ID" stops it).
 */
export async function watchJob(client: ApiClient, id: string, out: Output, o: { quietLog?: boolean } = {}): Promise<JobRecord> {
  const bar = new ProgressBar(`job ${id.slice(0, 8)}`, out);
  let last: JobRecord | undefined;
  const ac = new AbortController();
  const stop = () => {
    bar.clear();
    process.stderr.write(`\nStopped watching; job ${id} goes on ("strongbox job cancel ${id.slice(0, 8)}" stops it).\n`);
    process.exit(130);
  };
  process.once('SIGINT', stop);
  try {
    await client.events(
      `/api/jobs/${id}/events`,
      (e) => {
        if (out.json && process.env.STRONGBOX_JSON_EVENTS) process.stderr.write(JSON.stringify(e) + '\n');
        if (e.event === 'job') last = e.data as JobRecord;
        else if (e.event === 'progress') {
          const p = e.data as JobRecord['progress'];
          if (p.current) bar.emit({ type: 'phase', phase: p.current });
          bar.emit({ type: 'progress', counters: { files: p.items, dirs: 0, bytes: p.bytes, newBytes: p.newBytes, ...(p.totalBytes ? { totalBytes: p.totalBytes } : {}) } });
        } else if (e.event === 'log' && !o.quietLog) {
          const l = e.data as { time: string; line: string };
          bar.emit({ type: 'log', time: l.time, line: l.line });
        } else if (e.event === 'end') return false;
        return true;
      },
      ac.signal,
    );
  } finally {
    process.off('SIGINT', stop);
    bar.clear();
  }
  if (!last) throw new AppError('INTERNAL', `The server sent no record of job ${id}.`);
  return last.phase === 'running' || last.phase === 'queued' ? client.get<JobRecord>(`/api/jobs/${id}`) : last;
}

export function jobLine(j: JobRecord): string {
  const p = j.progress;
  return `${j.id.slice(0, 8)} ${j.kind} ${j.app ?? '-'} ${j.phase}${p.bytes ? ` ${formatBytes(p.bytes)}` : ''}`;
}
