import { Command } from 'commander';
import { AppError } from '../../kernel/index.js';
import type { DrillRecord } from '../../operations/index.js';
import { formatBytes, formatDuration, table, type Output } from '../render.js';
import { withOperations, withUi } from '../context.js';

function collect(v: string, prev: string[] = []): string[] {
  return [...prev, v];
}

/** A drill in words: per component its result, restore time and checks. */
export function printDrill(out: Output, d: DrillRecord): void {
  out.out(`Drill ${d.id} of snapshot ${d.snapshot.slice(0, 8)} (${d.apps.join(', ')}): ${d.status.toUpperCase()}`);
  out.out(`  recovery time ${formatDuration(d.recoveryMs)} (measured), recovery point ${formatDuration(d.recoveryPointSeconds * 1000)} (the snapshot's age), on ${d.startedAt.slice(0, 19).replace('T', ' ')}`);
  for (const c of d.components) {
    out.out(`  ${c.app}/${c.component} (${c.kind}): ${c.status}${c.status !== 'skipped' ? `, restored ${formatBytes(c.bytes)} in ${formatDuration(c.restoreMs)}` : ''}${c.reason ? ` — ${c.reason}` : ''}`);
    for (const k of c.checks) out.out(`      ${k.ok ? 'ok  ' : 'FAIL'} ${k.name}${k.expected !== undefined || k.actual !== undefined ? `: ${k.expected !== undefined ? `expected ${k.expected}, ` : ''}found ${k.actual ?? '?'}` : ''}`);
  }
}

export function drillCommand(): Command {
  const drill = new Command('drill').description('Restore drills: prove that snapshots come back by restoring them into throwaway targets, checking and timing them');

  drill
    .command('run [snapshot]')
    .description('Restore a snapshot into throwaway targets on this machine (temporary directories, PostgreSQL/MariaDB/Redis servers started for it), check it against what the backup recorded, time it, and remove everything')
    .option('--app <name>', 'only this application (and, without SNAPSHOT, its latest snapshot)', collect)
    .option('--timeout <duration>', 'the drill\'s time limit (2h, 90min); what is left then is not drilled and the drill fails', '6h')
    .option('--no-space-check', 'start even if this machine\'s disk looks too small for the restored data')
    .addHelpText('after', '\nNothing of the application is touched and no hook runs. The record (passed or failed, the\nmeasured recovery time, each check) is kept in the repository next to the snapshot.\nExit status 0 when the drill passed, 1 when it failed.\n\nExamples:\n  strongbox drill run --app notes\n  strongbox drill run 3f2a91c0 --json')
    .action((snapshot: string | undefined, o: { app?: string[]; timeout: string; spaceCheck: boolean }, cmd: Command) =>
      withOperations(cmd, async (ops, out) => {
        const d = await withUi(out, 'drilling', (ui) => ops.runDrill({ ...(snapshot ? { snapshot } : {}), ...(o.app ? { apps: o.app } : {}), ...(o.timeout !== '6h' ? { timeout: o.timeout } : {}), ...(o.spaceCheck ? {} : { spaceCheck: false }) }, ui));
        if (out.json) out.data(d);
        else printDrill(out, d);
        if (d.status !== 'passed') throw new AppError('RESTORE_INCOMPLETE', `The drill of snapshot ${d.snapshot.slice(0, 8)} failed: ${d.components.filter((c) => c.status === 'failed').map((c) => `${c.app}/${c.component}: ${c.reason ?? 'failed'}`).join('; ')}`, { details: { reported: true } });
      }),
    );

  drill
    .command('list')
    .description('Restore drills recorded in the repository, newest first')
    .option('--snapshot <id>', 'only the drills of this snapshot')
    .action((o: { snapshot?: string }, cmd: Command) =>
      withOperations(cmd, async (ops, out) => {
        const list = await ops.listDrills(o.snapshot);
        if (out.json) return out.data(list);
        if (list.length === 0) return out.out('No drills yet. Run one with "strongbox drill run --app NAME".');
        out.out(table(list.map((d) => [d.id, d.startedAt.slice(0, 19).replace('T', ' '), d.snapshot.slice(0, 8), d.apps.join(','), d.status, formatDuration(d.recoveryMs), formatDuration(d.recoveryPointSeconds * 1000)]), ['ID', 'WHEN', 'SNAPSHOT', 'APPS', 'RESULT', 'RECOVERY TIME', 'RECOVERY POINT']));
      }),
    );

  drill
    .command('status')
    .description('Per application: the newest snapshot a drill proved restorable, its measured recovery time, how old its data is, and whether that is within the drill schedule\'s objective')
    .addHelpText('after', '\nExit status 0 when every application with a drill objective is within it, 1 when one is overdue\n(usable as a monitoring check).\n\nExamples:\n  strongbox drill status\n  strongbox --server https://backup:8443 drill status --json')
    .action((_o: unknown, cmd: Command) =>
      withOperations(cmd, async (ops, out) => {
        const list = await ops.verificationStatus();
        if (out.json) out.data(list);
        else if (list.length === 0) out.out('No applications yet.');
        else {
          const age = (s: number | null) => (s === null ? '-' : formatDuration(s * 1000));
          out.out(
            table(
              list.map((v) => [v.app, v.verified ? `${v.verified.snapshot.slice(0, 8)} (${v.verified.at.slice(0, 10)})` : 'never verified', v.verified ? formatDuration(v.verified.recoveryMs) : '-', age(v.ageSeconds), v.objectiveSeconds === null ? '-' : `${age(v.objectiveSeconds)} (${v.schedule})`, v.objectiveSeconds === null ? 'no drill schedule' : v.overdue ? 'OVERDUE' : 'ok', v.lastDrill ? `${v.lastDrill.status} ${v.lastDrill.at.slice(0, 16).replace('T', ' ')}` : '-']),
              ['APP', 'VERIFIED SNAPSHOT', 'RECOVERY TIME', 'DATA AGE', 'OBJECTIVE', 'STATUS', 'LAST DRILL'],
            ),
          );
        }
        const overdue = list.filter((v) => v.overdue);
        if (overdue.length) throw new AppError('RESTORE_INCOMPLETE', `${overdue.map((v) => v.app).join(', ')}: no snapshot verified within the drill objective; run "strongbox drill run --app ${overdue[0]!.app}".`, { details: { reported: true } });
      }),
    );

  drill
    .command('show <id>')
    .description('One drill: each component, its restore time and its checks')
    .action((id: string, _o: unknown, cmd: Command) =>
      withOperations(cmd, async (ops, out) => {
        const d = (await ops.listDrills()).find((x) => x.id === id);
        if (!d) throw new AppError('NOT_FOUND', `No drill ${id} in this repository ("strongbox drill list" shows them).`);
        if (out.json) out.data(d);
        else printDrill(out, d);
      }),
    );
  return drill;
}
