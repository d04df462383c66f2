import type { BigIntStats } from 'node:fs';
import * as fs from 'node:fs';

/**
 * How the backup walks a file system (file contents are read by the pipeline
 * workers); a consumer-declared interface so races and faults can be injected.
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
