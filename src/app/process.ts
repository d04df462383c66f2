import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { installedFile } from '../kernel/index.js';

/**
 * Process-level tuning, done once at start-up by an edge (CLI, server) before any
 * worker starts: glibc's malloc is told to return large buffers to the system as
 * soon as they are freed (native/malloc_tune.c explains why). Without the addon
 * (not built, or not glibc) Strongbox works the same, with a higher peak RSS.
 */
export function tuneProcess(): boolean {
  try {
    const require = createRequire(import.meta.url);
    const addon = require(fileURLToPath(installedFile('build/Release/malloc_tune.node'))) as { tune(): boolean };
    return addon.tune();
  } catch {
    return false;
  }
}
