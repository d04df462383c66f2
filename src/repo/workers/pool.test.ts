import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { getHeapSpaceStatistics } from 'node:v8';
import { DEFAULT_CHUNKER } from '../chunker/fastcdc.js';
import { CodecPool } from './pool.js';

const PROBE = new URL('./heap-probe.fixture.js', import.meta.url);

test("a pool's workers keep a young generation of two 1 MiB semi-spaces; the main thread's is left as it was", async () => {
  const keys = { encrypt: randomBytes(32), mac: randomBytes(32) };
  const config = { compression: { level: 3 }, chunker: DEFAULT_CHUNKER, gearSeed: randomBytes(32).toString('hex') };
  const mainBefore = newSpaceMax();
  const pool = new CodecPool(keys, config as never, 1);
  try {
    const { newSpaceBytes } = await pool.run<{ newSpaceBytes: number }>(PROBE, { rounds: 40 });
    assert.ok(newSpaceBytes > 0, 'the probe ran on the worker');
    assert.ok(newSpaceBytes <= 2 * 1024 * 1024, `the worker's young generation grew to ${newSpaceBytes} bytes`);
  } finally {
    await pool.close();
  }
  // Allocating on the main thread now grows its young generation as far as before the pool.
  const { output } = (await import(PROBE.href)).workerJob({ rounds: 40 }) as { output: { newSpaceBytes: number } };
  assert.ok(output.newSpaceBytes > 2 * 1024 * 1024 || mainBefore > 2 * 1024 * 1024, `the main thread's young generation still grows past 2 MiB (${output.newSpaceBytes} bytes)`);
});

function newSpaceMax(): number {
  return getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')!.space_size;
}
