import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import type { ComponentKind } from '../source.js';

export const filesOptions = z.strictObject({
  path: z.string().startsWith('/', 'use an absolute path').describe('The directory (a volume, an uploads folder).'),
  exclude: z.array(z.string()).optional().describe('Globs to skip: "*.tmp" matches names anywhere, "/cache/**" paths below the directory.'),
});
export type FilesOptions = z.infer<typeof filesOptions>;

/** A directory, walked by the engine like any file backup; restored into an empty directory. */
export const filesKind: ComponentKind<FilesOptions> = {
  kind: 'files',
  schema: filesOptions,
  shape: 'tree',
  mappable: ['path'],
  describe: (o) => o.path,
  async drillTarget(_info, scratch) {
    // Every byte is read back, decrypted and checked against its id by the restore itself.
    return { options: { path: join(scratch, 'files') }, connection: { STRONGBOX_DRILL_PATH: join(scratch, 'files') }, verify: async () => [], cleanup: async () => undefined };
  },
  async preflight(o, _env, _info, force) {
    const report = { target: o.path, problems: [] as string[], plan: [] as string[] };
    let entries: string[];
    try {
      if (!statSync(o.path).isDirectory()) {
        report.problems.push(`${o.path} exists and is not a directory; choose another target with --map NAME.path=DIR`);
        return report;
      }
      entries = readdirSync(o.path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        report.plan.push(`create ${o.path} and restore the files into it`);
        return report;
      }
      report.problems.push(`cannot read ${o.path}: ${(err as Error).message}`);
      return report;
    }
    if (entries.length === 0) report.plan.push(`restore the files into the empty directory ${o.path}`);
    else if (force) report.plan.push(`restore over ${entries.length} existing entr${entries.length === 1 ? 'y' : 'ies'} in ${o.path} (--force: files of the snapshot replace files of the same name; others stay)`);
    else report.problems.push(`${o.path} is not empty (${listSome(entries)}); restore into an empty directory with --map NAME.path=DIR, or add --force`);
    return report;
  },
};

export function listSome(items: string[], n = 5): string {
  return items.slice(0, n).join(', ') + (items.length > n ? `, and ${items.length - n} more` : '');
}
