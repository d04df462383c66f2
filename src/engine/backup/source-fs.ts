import type { BigIntStats } from 'node:fs';
import * as fs from 'node:fs';

/**
 * How the backup looks at a file system when one is injected (tests: races and
 * faults); without one it lists each directory with `listDirectory` (repo/workers/
 * listing.ts) — on a pipeline worker when there is a parent tree to compare against —
 * and uses these calls only for its roots. File contents are read by the workers.
 */
export interface SourceFs {
  lstat(p: Buffer): Promise<BigIntStats>;
  readdir(p: Buffer): Promise<Buffer[]>;
  readlink(p: Buffer): Promise<Buffer>;
}

/**
 * Metadata calls are synchronous on purpose: on a local or cached file system a
 * synchronous lstat costs microseconds, while the promise version's thread-pool
 * round trip cost ~60 µs per file of main-thread time in profiles (bench/), and the
 * main thread is what feeds the workers.
 */
export const nodeFs: SourceFs = {
  lstat: async (p) => fs.lstatSync(p, { bigint: true }),
  readdir: async (p) => fs.readdirSync(p, { encoding: 'buffer' }),
  readlink: async (p) => fs.readlinkSync(p, { encoding: 'buffer' }),
};
