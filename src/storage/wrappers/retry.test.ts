import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AppError } from '../../kernel/index.js';
import type { Backend, ObjectInfo } from '../backend.js';
import { RetryingBackend } from './retry.js';

function flaky(failures: AppError[]): { backend: Backend; calls: () => number } {
  let calls = 0;
  const backend = {
    location: 'mem',
    async get() {
      calls++;
      const e = failures.shift();
      if (e) throw e;
      return Buffer.from('ok');
    },
  } as unknown as Backend;
  return { backend, calls: () => calls };
}

const noSleep = { sleep: async () => undefined, random: () => 1 };

test('retry: transient failures are retried with growing delays, then succeed', async () => {
  const delays: number[] = [];
  const { backend, calls } = flaky([new AppError('STORAGE_UNAVAILABLE', '503'), new AppError('STORAGE_UNAVAILABLE', 'reset')]);
  const r = new RetryingBackend(backend, { ...noSleep, baseDelayMs: 100, onRetry: (_w, _a, d) => delays.push(d) });
  assert.equal((await r.get({ kind: 'data', name: 'x' })).toString(), 'ok');
  assert.equal(calls(), 3);
  assert.deepEqual(delays, [100, 200]);
});

test('retry: permanent failures fail at once', async () => {
  for (const code of ['PERMISSION_DENIED', 'NOT_FOUND', 'STORAGE_FULL', 'REPO_NOT_FOUND'] as const) {
    const { backend, calls } = flaky([new AppError(code, code)]);
    await assert.rejects(new RetryingBackend(backend, noSleep).get({ kind: 'data', name: 'x' }), (e: unknown) => e instanceof AppError && e.code === code);
    assert.equal(calls(), 1);
  }
});

test('retry: gives up after the attempts and says so', async () => {
  const { backend, calls } = flaky(Array.from({ length: 10 }, () => new AppError('STORAGE_UNAVAILABLE', 'server said 503')));
  await assert.rejects(new RetryingBackend(backend, { ...noSleep, attempts: 4 }).get({ kind: 'data', name: 'x' }), /server said 503 \(gave up after 4 attempts\)/);
  assert.equal(calls(), 4);
});

test('retry: delays are capped and jittered', async () => {
  const delays: number[] = [];
  const { backend } = flaky(Array.from({ length: 6 }, () => new AppError('STORAGE_UNAVAILABLE', 'x')));
  await new RetryingBackend(backend, { sleep: async () => undefined, random: () => 0.5, baseDelayMs: 1000, maxDelayMs: 5000, onRetry: (_w, _a, d) => delays.push(d) }).get({ kind: 'data', name: 'x' });
  assert.deepEqual(delays, [500, 1000, 2000, 2500, 2500, 2500]);
});

test('retry: a listing interrupted by a transient failure restarts without repeating names', async () => {
  let round = 0;
  const inner = {
    location: 'mem',
    async *list(): AsyncIterable<ObjectInfo> {
      round++;
      yield { name: 'a', size: 1 };
      if (round === 1) throw new AppError('STORAGE_UNAVAILABLE', 'dropped');
      yield { name: 'b', size: 1 };
    },
  } as unknown as Backend;
  const names: string[] = [];
  for await (const o of new RetryingBackend(inner, noSleep).list('data')) names.push(o.name);
  assert.deepEqual(names, ['a', 'b']);
});

test('retry: a streamed read that drops resumes after the last byte it yielded, and gives up only without progress', async () => {
  const data = Buffer.from('abcdefghijklmnopqrstuvwxyz');
  const asked: { offset: number; length: number }[] = [];
  let round = 0;
  const inner = {
    location: 'mem',
    async *getStream(_h: unknown, range: { offset: number; length: number }): AsyncIterable<Buffer> {
      asked.push(range);
      round++;
      // Each of the first five rounds yields 3 bytes, then the connection drops.
      const n = round <= 5 ? Math.min(3, range.length) : range.length;
      yield data.subarray(range.offset, range.offset + n);
      if (round <= 5) throw new AppError('STORAGE_UNAVAILABLE', 'reset');
    },
  } as unknown as Backend;
  const r = new RetryingBackend(inner, { ...noSleep, attempts: 3 });
  const pieces: Buffer[] = [];
  for await (const p of r.getStream!({ kind: 'data', name: 'x' }, { offset: 2, length: 20 })) pieces.push(p);
  assert.equal(Buffer.concat(pieces).toString(), data.subarray(2, 22).toString());
  assert.deepEqual(asked.map((a) => a.offset), [2, 5, 8, 11, 14, 17]);
  assert.ok(asked.every((a) => a.offset + a.length === 22));

  const dead = { location: 'mem', async *getStream(): AsyncIterable<Buffer> { throw new AppError('STORAGE_UNAVAILABLE', 'down'); } } as unknown as Backend;
  await assert.rejects(
    (async () => {
      for await (const _ of new RetryingBackend(dead, { ...noSleep, attempts: 3 }).getStream!({ kind: 'data', name: 'x' }, { offset: 0, length: 1 })) void _;
    })(),
    /down \(gave up after 3 attempts\)/,
  );
  assert.equal(new RetryingBackend({ location: 'mem' } as unknown as Backend).getStream, undefined);
});
