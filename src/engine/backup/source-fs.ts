import { constants as fsc, type BigIntStats } from 'node:fs';
import * as fs from 'node:fs/promises';

/** What the backup reads from a file system; a consumer-declared interface so faults can be injected. */
export interface SourceFs {
  lstat(p: Buffer): Promise<BigIntStats>;
  readdir(p: Buffer): Promise<Buffer[]>;
  readlink(p: Buffer): Promise<Buffer>;
  open(p: Buffer): Promise<fs.FileHandle>;
}

export const nodeFs: SourceFs = {
  lstat: (p) => fs.lstat(p, { bigint: true }),
  readdir: (p) => fs.readdir(p, { encoding: 'buffer' }),
  readlink: (p) => fs.readlink(p, { encoding: 'buffer' }),
  async open(p) {
    try {
      // O_NOATIME keeps a backup from touching every file's atime; only the owner (or root) may ask for it.
      return await fs.open(p, fsc.O_RDONLY | fsc.O_NOATIME);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EPERM') return fs.open(p, fsc.O_RDONLY);
      throw err;
    }
  },
};
