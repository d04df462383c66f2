import { closeSync, fsyncSync, openSync } from 'node:fs';

/**
 * Makes a directory's entries durable (a rename or link into it survives a
 * crash): fsync of the directory itself, as POSIX requires after a rename.
 */
export function syncDirSync(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
