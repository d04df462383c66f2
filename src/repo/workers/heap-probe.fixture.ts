import { getHeapSpaceStatistics } from 'node:v8';

/**
 * Test fixture, run on a pool's worker (`CodecPool.run`): allocates `rounds` batches of objects
 * that survive a few scavenges each, and returns the most the worker's young generation grew to.
 */
export function workerJob(input: { rounds: number }): { output: { newSpaceBytes: number } } {
  let most = 0;
  let keep: { i: number; s: string }[][] = [];
  for (let r = 0; r < input.rounds; r++) {
    const batch: { i: number; s: string }[] = [];
    for (let i = 0; i < 100_000; i++) batch.push({ i, s: `x${i}` });
    keep.push(batch);
    if (keep.length > 3) keep = keep.slice(1);
    for (const s of getHeapSpaceStatistics()) if (s.space_name === 'new_space') most = Math.max(most, s.space_size);
  }
  return { output: { newSpaceBytes: most } };
}
