import { createReadStream, statSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { childEnv } from '../../kernel/index.js';
import { spawnConsumer, spawnProducer, runQuick } from '../tools.js';
import type { ComponentKind, PreflightReport } from '../source.js';

export const commandOptions = z.strictObject({
  backup: z.array(z.string()).min(1).describe('Writes the component to stdout, e.g. ["notes-ctl", "export-index"].'),
  restore: z.array(z.string()).min(1).describe('Reads it back from stdin, e.g. ["notes-ctl", "import-index"].'),
  check: z.array(z.string()).min(1).optional().describe('Optional preflight: exits 0 when the restore target is ready (clean), non-zero with a reason on stderr otherwise.'),
  verify: z.array(z.string()).min(1).optional().describe('Optional restore drill check: reads a restored copy of the component on stdin (its path also in STRONGBOX_DRILL_FILE) and exits 0 when it is sound, non-zero with a reason on stderr.'),
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
  /**
   * A drill restores the stream into a file of the drill (never through the
   * application's restore command), then runs the installed spec's `verify`
   * command on it; without one, the restore has still read back, decrypted and
   * checked every byte.
   */
  async drillTarget(_info, scratch, senv, installed) {
    const file = join(scratch, 'component.data');
    return {
      options: { backup: ['false'], restore: ['sh', '-c', 'exec cat > "$1"', 'strongbox-drill', file] },
      connection: { STRONGBOX_DRILL_FILE: file },
      verify: async () => {
        const bytes = statSync(file).size;
        if (!installed?.verify) return [{ name: `the stream read back (${bytes} bytes; no verify command in the installed spec)`, ok: true }];
        const label = `verify: ${installed.verify.join(' ')}`;
        try {
          const out = await spawnConsumer(installed.verify, childEnv({ ...(installed.env ?? {}), STRONGBOX_PHASE: 'verify', STRONGBOX_DRILL_FILE: file }), createReadStream(file), label, senv.signal);
          const said = out.trim().split('\n').filter(Boolean).slice(-1)[0];
          return [{ name: label, ok: true, ...(said ? { actual: said.slice(0, 300) } : {}) }];
        } catch (err) {
          if (senv.signal?.aborted) throw err;
          return [{ name: label, ok: false, expected: 'exit status 0', actual: (err as Error).message.slice(0, 500) }];
        }
      },
      cleanup: async () => undefined,
    };
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
