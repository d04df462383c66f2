import type { Command } from 'commander';
import { AppError } from '../kernel/index.js';
import type { ApiClient } from '../api/client/client.js';
import { followJob } from '../api/client/operations.js';
import type { JobRecord } from '../operations/index.js';
import { remote } from './context.js';
import { formatBytes, ProgressBar, type Output } from './render.js';

export { remote };

/** Commands that exist only on a server (jobs, schedules). */
export function serverOnly(cmd: Command, what: string): ApiClient {
  const c = remote(cmd);
  if (!c) throw new AppError('USAGE', `${what} live on the Strongbox server: give --server URL --token TOKEN (or STRONGBOX_SERVER and STRONGBOX_TOKEN), and run "strongbox serve" there.`);
  return c;
}

/**
 * Follows a job's events to its end: a progress bar and its log lines on a
 * terminal, the log lines otherwise, JSON lines with --json. Ctrl-C stops
 * watching (the job goes on; "strongbox job cancel ID" stops it).
 */
export async function watchJob(client: ApiClient, id: string, out: Output, o: { quietLog?: boolean } = {}): Promise<JobRecord> {
  const bar = new ProgressBar(`job ${id.slice(0, 8)}`, out);
  const stop = () => {
    bar.clear();
    process.stderr.write(`\nStopped watching; job ${id} goes on ("strongbox job cancel ${id.slice(0, 8)}" stops it).\n`);
    process.exit(130);
  };
  process.once('SIGINT', stop);
  try {
    return await followJob(client, id, { sink: bar }, { ...o, onEvent: (e) => void (out.json && process.env.STRONGBOX_JSON_EVENTS && process.stderr.write(JSON.stringify(e) + '\n')) });
  } finally {
    process.off('SIGINT', stop);
    bar.clear();
  }
}

export function jobLine(j: JobRecord): string {
  const p = j.progress;
  return `${j.id.slice(0, 8)} ${j.kind} ${j.app ?? '-'} ${j.phase}${p.bytes ? ` ${formatBytes(p.bytes)}` : ''}`;
}
