import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { AppError } from '../../kernel/index.js';
import type { Backend } from '../backend.js';

/**
 * The Backend contract's conformance suite: run once for every implementation.
 * `make` returns a fresh, empty backend.
 */
export function backendConformance(name: string, make: () => Promise<Backend>): void {
  const hex = () => randomBytes(32).toString('hex');

  test(`${name}: create, then put/get/stat round trip`, async () => {
    const b = await make();
    assert.equal(await b.isRepository(), false);
    await b.create();
    const data = randomBytes(100_000);
    const h = { kind: 'data' as const, name: hex() };
    await b.put(h, data);
    assert.deepEqual(await b.get(h), data);
    assert.equal((await b.stat(h)).size, data.length);
  });

  test(`${name}: a put of many parts stores their concatenation`, async () => {
    const b = await make();
    await b.create();
    const parts = Array.from({ length: 3000 }, (_, i) => randomBytes(1 + (i % 97)));
    const h = { kind: 'data' as const, name: hex() };
    await b.put(h, parts);
    assert.deepEqual(await b.get(h), Buffer.concat(parts));
  });

  test(`${name}: ranged reads return exactly the range, short objects are CORRUPT`, async () => {
    const b = await make();
    await b.create();
    const data = randomBytes(5000);
    const h = { kind: 'data' as const, name: hex() };
    await b.put(h, data);
    assert.deepEqual(await b.get(h, { offset: 100, length: 200 }), data.subarray(100, 300));
    assert.deepEqual(await b.get(h, { offset: 4990, length: 10 }), data.subarray(4990));
    await assert.rejects(b.get(h, { offset: 4990, length: 20 }), (e: unknown) => e instanceof AppError && e.code === 'CORRUPT');
  });

  test(`${name}: missing objects reject with NOT_FOUND`, async () => {
    const b = await make();
    await b.create();
    const h = { kind: 'index' as const, name: hex() };
    for (const call of [() => b.get(h), () => b.stat(h), () => b.remove(h)]) {
      await assert.rejects(call(), (e: unknown) => e instanceof AppError && e.code === 'NOT_FOUND');
    }
  });

  test(`${name}: list sees every put (read-after-write) and no longer sees removed objects`, async () => {
    const b = await make();
    await b.create();
    const names = Array.from({ length: 25 }, hex).sort();
    for (const n of names) await b.put({ kind: 'data', name: n }, Buffer.from(n));
    await b.put({ kind: 'snapshots', name: names[0]! }, Buffer.from('s'));
    const listed: string[] = [];
    for await (const o of b.list('data')) listed.push(o.name);
    assert.deepEqual(listed.sort(), names);
    await b.remove({ kind: 'data', name: names[3]! });
    const after: string[] = [];
    for await (const o of b.list('data')) after.push(o.name);
    assert.equal(after.length, 24);
    assert.ok(!after.includes(names[3]!));
  });

  test(`${name}: putting the same key with the same bytes is idempotent`, async () => {
    const b = await make();
    await b.create();
    const h = { kind: 'keys' as const, name: hex() };
    await b.put(h, Buffer.from('same'));
    await b.put(h, Buffer.from('same'));
    assert.equal((await b.get(h)).toString(), 'same');
  });

  test(`${name}: the config object marks a repository; create refuses an existing one`, async () => {
    const b = await make();
    await b.create();
    await b.put({ kind: 'config', name: 'config' }, Buffer.from('c'));
    assert.equal(await b.isRepository(), true);
    await assert.rejects(b.create(), (e: unknown) => e instanceof AppError && e.code === 'REPO_EXISTS');
  });
}
