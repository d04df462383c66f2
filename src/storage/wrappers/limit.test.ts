import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Backend } from '../backend.js';
import { LimitedBackend } from './limit.js';

test('limit: a streamed read holds its slot until it ends or its reader stops', async () => {
  let active = 0;
  let peak = 0;
  const inner = {
    location: 'mem',
    async get() {
      active++;
      peak = Math.max(peak, active);
      await new Promise((r) => setTimeout(r, 5));
      active--;
      return Buffer.from('g');
    },
    async *getStream(): AsyncIterable<Buffer> {
      active++;
      peak = Math.max(peak, active);
      try {
        for (let i = 0; i < 3; i++) {
          await new Promise((r) => setTimeout(r, 5));
          yield Buffer.from([i]);
        }
      } finally {
        active--;
      }
    },
  } as unknown as Backend;
  const b = new LimitedBackend(inner, 2);
  const h = { kind: 'data' as const, name: 'x' };
  const drain = async (stopEarly: boolean) => {
    for await (const _ of b.getStream!(h, { offset: 0, length: 3 })) if (stopEarly) break;
  };
  await Promise.all([drain(false), drain(true), drain(false), b.get(h), drain(true), b.get(h)]);
  assert.equal(peak, 2);
  assert.equal(active, 0);
  assert.equal(new LimitedBackend({ location: 'mem' } as unknown as Backend, 1).getStream, undefined);
});
