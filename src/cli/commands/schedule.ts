import { systemClock } from '../../kernel/index.js';
import { Command } from 'commander';
import { checkTimezone, describeCron, nextRuns, resolveCron, type Schedule } from '../../operations/index.js';
import type { JobRecord } from '../../operations/index.js';
import { table, type Output } from '../render.js';
import { collect, output, parseCount } from '../context.js';
import { remote, serverOnly } from '../remote.js';

type View = Schedule & { description: string; nextRuns: string[] };

function retentionText(r: Schedule['retention']): string {
  const parts = [r.ttl ? `ttl ${r.ttl}` : '', ...(['keepLast', 'keepHourly', 'keepDaily', 'keepWeekly', 'keepMonthly', 'keepYearly'] as const).filter((k) => r[k]).map((k) => `${k.slice(4).toLowerCase()} ${r[k]}`)].filter(Boolean);
  return parts.join(', ') || 'keep all';
}

function printSchedule(out: Output, s: View): void {
  if (out.json) return out.data(s);
  out.out(
    [
      `schedule   ${s.name}${s.paused ? ' (paused)' : ''}`,
      `what       ${s.kind === 'drill' ? `restore drill of the latest snapshot${s.app ? ` of ${s.app}` : ''}` : s.kind === 'maintenance' ? `maintenance: check reading ${s.maintenance?.readDataPercent ?? 5}% of the data${s.maintenance?.prune ? ', then prune' : ''}` : s.app ? `snapshots of ${s.app}` : 'full snapshots'}${s.destination ? ` to ${s.destination}` : ''}`,
      `when       ${s.description}  [${s.cron}]`,
      s.kind === 'drill' ? `objective  newest verified data at most ${s.objective ?? 'twice the interval'} old` : `retention  ${retentionText(s.retention)}`,
      `tags       ${s.tags.join(', ') || '-'}`,
      `last run   ${s.lastRunAt ?? '-'}${s.lastOutcome ? ` (${s.lastOutcome})` : ''}${s.skipped ? `; ${s.skipped} run(s) skipped` : ''}`,
      `next runs  ${s.nextRuns.join('\n           ') || '- (paused)'}`,
    ].join('\n'),
  );
}

function retentionOptions(c: Command): Command {
  return c
    .option('--ttl <duration>', 'forget snapshots older than this (30d, 12h, 2w, 6m, 1y) unless a keep rule holds them')
    .option('--keep-last <n>', 'keep the last N', parseCount('--keep-last'))
    .option('--keep-hourly <n>', 'keep one per hour for N hours', parseCount('--keep-hourly'))
    .option('--keep-daily <n>', 'keep one per day for N days', parseCount('--keep-daily'))
    .option('--keep-weekly <n>', 'keep one per week for N weeks', parseCount('--keep-weekly'))
    .option('--keep-monthly <n>', 'keep one per month for N months', parseCount('--keep-monthly'))
    .option('--keep-yearly <n>', 'keep one per year for N years', parseCount('--keep-yearly'));
}

type RetentionOpts = { ttl?: string; keepLast?: number; keepHourly?: number; keepDaily?: number; keepWeekly?: number; keepMonthly?: number; keepYearly?: number };
function retention(o: RetentionOpts): Schedule['retention'] | undefined {
  const r = Object.fromEntries(Object.entries({ ttl: o.ttl, keepLast: o.keepLast, keepHourly: o.keepHourly, keepDaily: o.keepDaily, keepWeekly: o.keepWeekly, keepMonthly: o.keepMonthly, keepYearly: o.keepYearly }).filter(([, v]) => v !== undefined));
  return Object.keys(r).length ? (r as Schedule['retention']) : undefined;
}

export function scheduleCommand(): Command {
  const sch = new Command('schedule').description('Snapshot and maintenance schedules with retention, run by the server (needs --server)');

  retentionOptions(
    sch
      .command('add <name>')
      .description('Add a schedule: --app NAME (partial snapshots), --full, or --maintenance')
      .requiredOption('--at <when>', 'hourly, daily, weekly, or a cron expression ("30 2 * * *"; 6 fields for seconds)')
      .option('--app <name>', 'snapshots of this application')
      .option('--full', 'full snapshots (every application and the instance state)')
      .option('--maintenance', 'repository check (a sample of data read back) and prune')
      .option('--read-data <percent>', 'maintenance: share of the data to read back', '5')
      .option('--no-prune', 'maintenance: check only')
      .option('--drill', 'a restore drill of the latest snapshot (of --app, or of any application): docs/DRILLS.md')
      .option('--objective <age>', 'drill: how old the newest verified data may get before the application is overdue (8d, 36h; default twice the interval)')
      .option('--tz <zone>', 'time zone of --at (IANA name)', 'UTC')
      .option('--destination <name>', 'where (default: the default destination)')
      .option('--tag <tag>', 'tag its snapshots (repeat)', collect)
      .option('--paused', 'add it paused'),
  )
    .addHelpText('after', '\nRetention runs after each successful run, over that schedule\'s own snapshots (the application\'s\npartial snapshots, or the full ones). Pinned snapshots and the newest successful one are never forgotten.\nA run that would overlap the previous one is skipped and counted.\n\nExamples:\n  strongbox schedule add notes-nightly --app notes --at daily --tz Europe/Paris --keep-daily 7 --keep-weekly 4\n  strongbox schedule add dr --full --at "0 3 * * 0" --ttl 90d\n  strongbox schedule add upkeep --maintenance --at weekly --read-data 10\n  strongbox schedule add notes-drill --drill --app notes --at weekly --objective 8d')
    .action(async (name: string, o: RetentionOpts & { at: string; app?: string; full?: boolean; maintenance?: boolean; drill?: boolean; objective?: string; readData: string; prune: boolean; tz: string; destination?: string; tag?: string[]; paused?: boolean }, cmd: Command) => {
      const out = output(cmd);
      const c = serverOnly(cmd, 'Schedules');
      const modes = [o.drill ? undefined : o.app, o.full, o.maintenance, o.drill].filter(Boolean).length;
      if (modes !== 1) throw new (await import('../../kernel/index.js')).AppError('USAGE', 'Say what the schedule does: --app NAME, --full, --maintenance or --drill [--app NAME] (one of them).');
      const s = await c.request<View>('POST', '/api/schedules', {
        name,
        kind: o.drill ? 'drill' : o.maintenance ? 'maintenance' : 'backup',
        ...(o.app ? { app: o.app } : {}),
        ...(o.destination ? { destination: o.destination } : {}),
        cron: o.at,
        timezone: o.tz,
        paused: !!o.paused,
        retention: retention(o) ?? {},
        tags: o.tag ?? [],
        ...(o.maintenance ? { maintenance: { readDataPercent: Number(o.readData), prune: o.prune } } : {}),
        ...(o.objective ? { objective: o.objective } : {}),
      });
      printSchedule(out, s);
    });

  sch
    .command('list')
    .description('Schedules, with their next run')
    .action(async (_o: unknown, cmd: Command) => {
      const out = output(cmd);
      const list = await serverOnly(cmd, 'Schedules').get<View[]>('/api/schedules');
      if (out.json) return out.data(list);
      if (list.length === 0) return out.out('No schedules yet. Add one with "strongbox schedule add NAME --app APP --at daily --keep-daily 7".');
      out.out(table(list.map((s) => [s.name, s.kind === 'drill' ? `drill ${s.app ?? ''}`.trim() : s.kind === 'maintenance' ? 'maintenance' : s.app ?? 'full', s.description, s.paused ? 'paused' : (s.nextRuns[0]?.replace('T', ' ').slice(0, 16) ?? '-'), retentionText(s.retention), s.lastOutcome ?? '-']), ['Name', 'What', 'When', 'Next (UTC)', 'Retention', 'Last run']));
    });

  sch
    .command('show <name>')
    .description('One schedule with its next five runs')
    .action(async (name: string, _o: unknown, cmd: Command) => printSchedule(output(cmd), await serverOnly(cmd, 'Schedules').get<View>(`/api/schedules/${encodeURIComponent(name)}`)));

  retentionOptions(
    sch
      .command('update <name>')
      .description('Change a schedule\'s time, zone, destination, tags, retention or drill objective')
      .option('--at <when>', 'hourly, daily, weekly, or a cron expression')
      .option('--tz <zone>', 'time zone')
      .option('--destination <name>', 'where')
      .option('--tag <tag>', 'tags (repeat; replaces the list)', collect)
      .option('--objective <age>', 'drill: how old the newest verified data may get (8d, 36h)'),
  ).action(async (name: string, o: RetentionOpts & { at?: string; tz?: string; destination?: string; tag?: string[]; objective?: string }, cmd: Command) => {
    const r = retention(o);
    const s = await serverOnly(cmd, 'Schedules').request<View>('PATCH', `/api/schedules/${encodeURIComponent(name)}`, { ...(o.at ? { cron: o.at } : {}), ...(o.tz ? { timezone: o.tz } : {}), ...(o.destination ? { destination: o.destination } : {}), ...(o.tag ? { tags: o.tag } : {}), ...(r ? { retention: r } : {}), ...(o.objective ? { objective: o.objective } : {}) });
    printSchedule(output(cmd), s);
  });

  for (const verb of ['pause', 'resume'] as const) {
    sch
      .command(`${verb} <name>`)
      .description(verb === 'pause' ? 'Pause a schedule' : 'Resume a paused schedule')
      .action(async (name: string, _o: unknown, cmd: Command) => printSchedule(output(cmd), await serverOnly(cmd, 'Schedules').request<View>('POST', `/api/schedules/${encodeURIComponent(name)}/${verb}`)));
  }

  sch
    .command('run <name>')
    .description('Run a schedule now (with its retention); prints the job id')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      const out = output(cmd);
      const j = await serverOnly(cmd, 'Schedules').request<JobRecord>('POST', `/api/schedules/${encodeURIComponent(name)}/run`);
      if (out.json) return out.data(j);
      out.out(j.id);
    });

  sch
    .command('retention <name>')
    .description('What the schedule\'s retention keeps and forgets now (a dry run: nothing is deleted)')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      const out = output(cmd);
      const r = await serverOnly(cmd, 'Schedules').get<{ keepsEverything: boolean; decisions: { id: string; time: string; keep: boolean; reasons: string[] }[] }>(`/api/schedules/${encodeURIComponent(name)}/retention`);
      if (out.json) return out.data(r);
      if (r.keepsEverything) return out.out('This schedule has no retention rules: it keeps every snapshot.');
      out.out(table(r.decisions.map((d) => [d.id.slice(0, 8), d.time.replace('T', ' ').slice(0, 19), d.keep ? 'keep' : 'forget', d.reasons.join(', ')]), ['ID', 'Time (UTC)', 'Decision', 'Why']));
    });

  sch
    .command('remove <name>')
    .description('Remove a schedule (its snapshots stay)')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      const out = output(cmd);
      const r = await serverOnly(cmd, 'Schedules').request<{ removed: string }>('DELETE', `/api/schedules/${encodeURIComponent(name)}`);
      if (out.json) out.data(r);
      else out.out(`Removed schedule ${r.removed}`);
    });

  sch
    .command('preview <when>')
    .description('Check a preset or cron expression: what it means and its next runs (no server needed)')
    .option('--tz <zone>', 'time zone', 'UTC')
    .option('-n, --count <n>', 'how many runs', parseCount('--count'), 5)
    .action(async (when: string, o: { tz: string; count: number }, cmd: Command) => {
      const out = output(cmd);
      const c = remote(cmd);
      let r: { cron: string; description: string; nextRuns: string[] };
      if (c) r = await c.request('POST', '/api/schedules/preview', { cron: when, timezone: o.tz, count: o.count });
      else {
        const tz = checkTimezone(o.tz);
        const cron = resolveCron(when, tz);
        r = { cron, description: describeCron(cron, tz), nextRuns: nextRuns(cron, tz, systemClock.now(), o.count).map((d) => d.toISOString()) };
      }
      if (out.json) return out.data(r);
      out.out(`${r.description}  [${r.cron}]\n${r.nextRuns.map((t) => `  ${t}`).join('\n')}`);
    });

  return sch;
}
