import { statfsSync } from 'node:fs';
import * as path from 'node:path';
import { AppError } from '../../kernel/index.js';

/** Free bytes for an unprivileged writer at `dir`, or at its nearest existing ancestor. */
export function freeBytes(dir: string): number {
  let d = path.resolve(dir);
  for (;;) {
    try {
      const s = statfsSync(d);
      return Number(s.bavail) * Number(s.bsize);
    } catch (err) {
      const parent = path.dirname(d);
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || parent === d) throw err;
      d = parent;
    }
  }
}

/**
 * Refuses a restore that cannot fit before a byte is written (STORAGE_FULL),
 * rather than failing half-way with a full disk. `need` is what the snapshot
 * says its files hold; sparse files may need less, hence the way out.
 */
export function checkFreeSpace(dir: string, need: number, formatBytes: (n: number) => string = (n) => `${n} bytes`): void {
  const free = freeBytes(dir);
  if (need > free) {
    throw new AppError('STORAGE_FULL', `The restore needs about ${formatBytes(need)} at ${dir}, which has ${formatBytes(free)} free. Free some space or restore somewhere else; if the snapshot's files are sparse and you know they fit, add --no-space-check.`);
  }
}
