import { Command } from 'commander';
import { AppError, errorTable, EXIT_PARTIAL, systemClock } from '../../kernel/index.js';
import type { JobRecord } from '../../operations/index.js';
import { formatBytes, formatDuration, table, type Output } from '../render.js';
import { outcome, output, parseCount } from '../context.js';
import { serverOnly, watchJob } from '../remote.js';

function duration(j: JobRecord): string {
  if (!j.startedAt) return '-';
  return formatDuration((j.finishedAt ? Date.parse(j.finishedAt) : systemClock.now().getTime()) - Date.parse(j.startedAt));
}

export function printJob(out: Output, j: JobRecord): void {
  if (out.json) return out.data(j);
  const lines = [
    `job        ${j.id}`,
    `kind       ${j.kind}${j.app ? ` of ${j.app}` : ''}${j.destination ? ` (destination ${j.destination})` : ''}`,
    `phase      ${j.phase}`,
    `asked by   ${j.requestedBy}${j.scheduleId ? ` (schedule ${j.scheduleId})` : ''}`,
    `created    ${j.createdAt}`,
    `ran        ${j.startedAt ?? '-'} → ${j.finishedAt ?? '…'} (${duration(j)})`,
    `progress   ${formatBytes(j.progress.bytes)} in ${j.progress.items} item(s)${j.progress.current ? `, at ${j.progress.current}` : ''}`,
  ];
  out.out(lines.join('\n'));
  if (j.progress.components.length) out.out(table(j.progress.components.map((c) => [`${c.app}/${c.component}`, c.kind, c.state, formatBytes(c.bytes), String(c.items), c.rate ? `${formatBytes(c.rate)}/s` : '-', c.error ?? '']), ['Component', 'Kind', 'State', 'Bytes', 'Items', 'Rate', 'Error']));
  if (j.result) out.out(`result     ${JSON.stringify(j.result).slice(0, 400)}`);
  for (const e of j.errors) out.out(`error      ${e}`);
  for (const w of j.warnings.slice(0, 20)) out.out(`warning    ${w}`);
}

/** A finished job's phase as the CLI's exit status. */
export function jobExit(j: JobRecord): void {
  if (j.phase === 'partially_failed') outcome.exitCode = EXIT_PARTIAL;
  if (j.phase === 'failed') outcome.exitCode = errorTable.INTERNAL.exit;
  if (j.phase === 'canceled') outcome.exitCode = errorTable.CANCELLED.exit;
}

export function jobCommand(): Command {
  const job = new Command('job').description('Follow the server\'s jobs: backups, restores, downloads, uploads, maintenance (needs --server)');

  job
    .command('list')
    .description('Recent jobs, newest first')
    .option('--app <name>', 'only this application\'s')
    .option('--kind <kind>', 'backup, restore, copy, download, upload, check, prune')
    .option('--phase <phase>', 'queued, running, completed, partially_failed, failed, canceled')
    .option('-n, --limit <n>', 'how many', parseCount('--limit'), 30)
    .action(async (o: { app?: string; kind?: string; phase?: string; limit: number }, cmd: Command) => {
      const out = output(cmd);
      const c = serverOnly(cmd, 'Jobs');
      const q = new URLSearchParams({ limit: String(o.limit), ...(o.app ? { app: o.app } : {}), ...(o.kind ? { kind: o.kind } : {}), ...(o.phase ? { phase: o.phase } : {}) });
      const list = await c.get<JobRecord[]>(`/api/jobs?${q}`);
      if (out.json) return out.data(list);
      if (list.length === 0) return out.out('No jobs yet. Start one with "strongbox snapshot create --app NAME".');
      out.out(table(list.map((j) => [j.id.slice(0, 8), j.kind, j.app ?? '-', j.phase, j.createdAt.replace('T', ' ').slice(0, 19), duration(j), formatBytes(j.progress.bytes), j.requestedBy, j.errors[0]?.slice(0, 60) ?? '']), ['ID', 'Kind', 'App', 'Phase', 'Created (UTC)', 'Time', 'Bytes', 'By', 'Error']));
    });

  job
    .command('show <id>')
    .description('One job: phase, progress per component, result, errors')
    .action(async (id: string, _o: unknown, cmd: Command) => {
      printJob(output(cmd), await serverOnly(cmd, 'Jobs').get<JobRecord>(`/api/jobs/${encodeURIComponent(id)}`));
    });

  job
    .command('log <id>')
    .description('A job\'s log')
    .action(async (id: string, _o: unknown, cmd: Command) => {
      const out = output(cmd);
      const r = await serverOnly(cmd, 'Jobs').get<{ lines: { seq: number; time: string; line: string }[] }>(`/api/jobs/${encodeURIComponent(id)}/log`);
      if (out.json) return out.data(r);
      for (const l of r.lines) out.out(`${l.time.slice(11, 19)} ${l.line}`);
    });

  job
    .command('watch <id>')
    .description('Follow a job live (progress and log) until it ends; its outcome is the exit status')
    .action(async (id: string, _o: unknown, cmd: Command) => {
      const out = output(cmd);
      const c = serverOnly(cmd, 'Jobs');
      const j = await watchJob(c, id, out);
      if (out.json) out.data(j);
      else out.out(`job ${j.id.slice(0, 8)} ${j.phase}${j.errors.length ? `: ${j.errors.join('; ')}` : ''}`);
      jobExit(j);
    });

  job
    .command('cancel <id>')
    .description('Cancel a job: a queued one at once, a running one at its next safe point (post hooks still run)')
    .option('--wait', 'wait until it has stopped')
    .action(async (id: string, o: { wait?: boolean }, cmd: Command) => {
      const out = output(cmd);
      const c = serverOnly(cmd, 'Jobs');
      let j = await c.request<JobRecord>('POST', `/api/jobs/${encodeURIComponent(id)}/cancel`);
      if (o.wait) j = await watchJob(c, j.id, out, { quietLog: true });
      if (out.json) return out.data(j);
      out.out(o.wait || j.phase === 'canceled' ? `job ${j.id.slice(0, 8)}: ${j.phase}` : `job ${j.id.slice(0, 8)}: cancel requested; it stops at its next safe point`);
      if (o.wait && j.phase !== 'canceled') throw new AppError('CONFLICT', `Job ${j.id.slice(0, 8)} ended ${j.phase} before the cancel took effect.`);
    });

  return job;
}
