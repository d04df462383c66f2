import { z } from 'zod';
import { childEnv } from '../../kernel/index.js';
import { spawnConsumer, spawnProducer, runQuick } from '../tools.js';
import type { ComponentKind, PreflightReport } from '../source.js';

export const commandOptions = z.strictObject({
  backup: z.array(z.string()).min(1).describe('Writes the component to stdout, e.g. ["notes-ctl", "export-index"].'),
  restore: z.array(z.string()).min(1).describe('Reads it back from stdin, e.g. ["notes-ctl", "import-index"].'),
  check: z.array(z.string()).min(1).optional().describe('Optional preflight: exits 0 when the restore target is ready (clean), non-zero with a reason on stderr otherwise.'),
  env: z.record(z.string(), z.string()).optional(),
  workdir: z.string().optional(),
});
export type CommandOptions = z.infer<typeof commandOptions>;

/** Any program: its stdout is the component on backup, its stdin on restore. */
export const commandKind: ComponentKind<CommandOptions> = {
  kind: 'command',
  schema: commandOptions,
  shape: 'stream',
  artifact: 'stream',
  mappable: [],
  describe: (o) => o.backup.join(' '),
  async backup(o, senv) {
    senv.log(`command: running ${o.backup.join(' ')}`);
    const p = spawnProducer(o.backup, childEnv({ ...(o.env ?? {}), STRONGBOX_PHASE: 'backup' }), `back up (${o.backup.join(' ')})`, senv.signal);
    return { stream: p.stream, done: p.done.then(() => ({ command: o.backup.join(' ') })) };
  },
  async preflight(o, _senv, _info, force) {
    const report: PreflightReport = { target: o.restore.join(' '), problems: [], plan: [] };
    const which = runQuick(['sh', '-c', 'command -v "$1"', 'sh', o.restore[0]!], childEnv());
    if (!which.ok) {
      report.problems.push(`${o.restore[0]} is not installed or not on PATH`);
      return report;
    }
    if (o.check) {
      const r = runQuick(o.check, childEnv({ ...(o.env ?? {}), STRONGBOX_PHASE: 'check' }));
      if (!r.ok && !force) report.problems.push(`the check ${o.check.join(' ')} says the target is not ready: ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' | ') || 'non-zero exit'} (add --force to restore anyway)`);
      else if (!r.ok) report.plan.push(`run ${o.restore.join(' ')} although the check failed (--force)`);
      else report.plan.push(`run ${o.restore.join(' ')} with the data on stdin`);
    } else report.plan.push(`run ${o.restore.join(' ')} with the data on stdin (no check command in the spec, so the target's state is not verified)`);
    return report;
  },
  async restore(o, input, senv) {
    senv.log(`command: running ${o.restore.join(' ')}`);
    const out = await spawnConsumer(o.restore, childEnv({ ...(o.env ?? {}), STRONGBOX_PHASE: 'restore' }), input, `restore (${o.restore.join(' ')})`, senv.signal);
    for (const line of out.trim().split('\n')) if (line) senv.log(`command: ${line}`);
    return { command: o.restore.join(' ') };
  },
};
