import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * Bounds memory held by garbage buffers. Chunk processing allocates large
 * short-lived buffers outside the JS heap (cipher and compressor outputs); V8
 * collects them only when its heap is under pressure, so each thread could hold
 * tens of MiB of dead buffers. Calling for a collection after every so many
 * bytes processed costs a few milliseconds and keeps peak RSS flat (bench/).
 */
let gcFn: (() => void) | undefined;
let resolved = false;

function getGc(): (() => void) | undefined {
  if (!resolved) {
    resolved = true;
    try {
      setFlagsFromString('--expose-gc');
      gcFn = runInNewContext('gc') as () => void;
    } catch {
      gcFn = undefined;
    }
  }
  return gcFn;
}

export class GarbageBudget {
  private since = 0;

  /**
   * `minor` (a scavenge) frees the short-lived chunk buffers of a backup at a fraction
   * of the cost of a full collection (first snapshot of 1 GiB: 4.3 s instead of 4.9 s);
   * restores keep their buffers longer and need `major` to stay within bounds.
   */
  constructor(
    private readonly everyBytes = 64 * 1024 * 1024,
    private readonly kind: 'minor' | 'major' = 'major',
  ) {}

  /** Records `bytes` of buffers turned to garbage; collects when the budget is spent. */
  spent(bytes: number): void {
    this.since += bytes;
    if (this.since >= this.everyBytes) {
      this.since = 0;
      const gc = getGc() as ((o?: { type: 'minor' | 'major' }) => void) | undefined;
      // A bare gc() is the memory-reducing full collection; gc({ type: 'major' }) measured
      // higher peaks on restores.
      if (this.kind === 'minor') gc?.({ type: 'minor' });
      else gc?.();
    }
  }
}
