import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { AppError } from '../../kernel/index.js';
import type { Backend } from '../backend.js';
import { LimitedBackend } from '../wrappers/limit.js';
import { RetryingBackend } from '../wrappers/retry.js';

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

  test(`${name}: once a put settles its buffer is the caller's again (a saver reuses it for the next pack)`, async () => {
    const b = await make();
    await b.create();
    const buf = randomBytes(200_000);
    const first = Buffer.from(buf.subarray(0, 150_000));
    const h = { kind: 'data' as const, name: hex() };
    await b.put(h, buf.subarray(0, 150_000));
    buf.fill(0x5a);
    const h2 = { kind: 'data' as const, name: hex() };
    await b.put(h2, buf.subarray(0, 120_000));
    assert.deepEqual(await b.get(h), first, 'what was put first is unchanged');
    assert.deepEqual(await b.get(h2), Buffer.alloc(120_000, 0x5a));
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

  test(`${name}: a streamed read (where the store streams) yields exactly the range; a short object ends it CORRUPT; a reader may stop early`, async () => {
    const b = await make();
    if (!b.getStream) {
      // Not offered: the wrappers must not offer it either (readers then use ranged gets).
      assert.equal(new RetryingBackend(new LimitedBackend(b, 2)).getStream, undefined);
      return;
    }
    await b.create();
    const data = randomBytes(3 * 1024 * 1024 + 17);
    const h = { kind: 'data' as const, name: hex() };
    await b.put(h, data);
    const read = async (offset: number, length: number, of = h) => {
      const pieces: Buffer[] = [];
      for await (const p of b.getStream!(of, { offset, length })) pieces.push(p);
      return Buffer.concat(pieces);
    };
    assert.deepEqual(await read(0, data.length), data);
    assert.deepEqual(await read(1000, 2 * 1024 * 1024), data.subarray(1000, 1000 + 2 * 1024 * 1024));
    assert.equal((await read(5, 0)).length, 0);
    await assert.rejects(read(data.length - 10, 20), (e: unknown) => e instanceof AppError && e.code === 'CORRUPT');
    // Stopping after the first piece frees the request: the next reads still work.
    for (let i = 0; i < 20; i++) {
      for await (const p of b.getStream(h, { offset: 0, length: data.length })) {
        assert.ok(p.length > 0);
        break;
      }
    }
    assert.deepEqual(await read(7, 100), data.subarray(7, 107));
    await assert.rejects(read(0, 1, { kind: 'data', name: hex() }), (e: unknown) => e instanceof AppError && e.code === 'NOT_FOUND');
  });

  test(`${name}: a ranged read into a given buffer (where the store offers one) fills exactly the range; short objects are CORRUPT, missing ones NOT_FOUND`, async () => {
    const b = await make();
    if (!b.getInto) {
      assert.equal(new RetryingBackend(new LimitedBackend(b, 2)).getInto, undefined);
      return;
    }
    await b.create();
    const data = randomBytes(5000);
    const h = { kind: 'data' as const, name: hex() };
    await b.put(h, data);
    const into = new Uint8Array(new SharedArrayBuffer(300)).fill(7);
    await b.getInto(h, { offset: 100, length: 200 }, into);
    assert.deepEqual(Buffer.from(into.subarray(0, 200)), data.subarray(100, 300));
    assert.ok(into.subarray(200).every((x) => x === 7), 'nothing written past the range');
    await assert.rejects(b.getInto(h, { offset: 4990, length: 20 }, into), (e: unknown) => e instanceof AppError && e.code === 'CORRUPT');
    await assert.rejects(b.getInto({ kind: 'data', name: hex() }, { offset: 0, length: 1 }, into), (e: unknown) => e instanceof AppError && e.code === 'NOT_FOUND');
  });

  test(`${name}: a streamed write (where the store offers one) is invisible until committed, whole after, and leaves nothing when aborted`, async () => {
    const b = await make();
    if (!b.createWriter) {
      // Not offered: the wrappers must not offer it either (the saver then puts whole packs).
      assert.equal(new RetryingBackend(new LimitedBackend(b, 2)).createWriter, undefined);
      assert.equal(new RetryingBackend(new LimitedBackend(b, 2)).removeTemporaries, undefined);
      return;
    }
    await b.create();
    const listed = async () => {
      const names: string[] = [];
      for await (const o of b.list('data')) names.push(o.name);
      return names;
    };
    const parts = Array.from({ length: 2500 }, (_, i) => randomBytes(1 + ((i * 7919) % 5000)));
    const w = await b.createWriter('data');
    await w.write(parts.slice(0, 1200));
    await w.write([]);
    await w.write(parts.slice(1200));
    const h = { kind: 'data' as const, name: hex() };
    assert.deepEqual(await listed(), []);
    await assert.rejects(b.get(h), (e: unknown) => e instanceof AppError && e.code === 'NOT_FOUND');
    await w.commit(h.name);
    assert.deepEqual(await b.get(h), Buffer.concat(parts));
    assert.deepEqual(await listed(), [h.name]);
    await assert.rejects(w.write([Buffer.from('late')]));

    const gone = await b.createWriter('data');
    await gone.write([randomBytes(1000)]);
    await gone.abort();
    assert.deepEqual(await listed(), [h.name]);
  });

  test(`${name}: missing objects reject with NOT_FOUND`, async () => {
    const b = await make();
    await b.create();
    const h = { kind: 'index' as const, name: hex() };
    for (const call of [() => b.get(h), () => b.stat(h), () => b.remove(h)]) {
      await assert.rejects(call(), (e: unknown) => e instanceof AppError && e.code === 'NOT_FOUND');
    }
  });

  test(`${name}: a remove that does not care whether the object is there (missingOk) removes it, or resolves when it is missing`, async () => {
    const b = await make();
    await b.create();
    const h = { kind: 'locks' as const, name: hex() };
    await b.remove(h, { missingOk: true });
    await b.put(h, Buffer.from('lock'));
    await b.remove(h, { missingOk: true });
    await assert.rejects(b.stat(h), (e: unknown) => e instanceof AppError && e.code === 'NOT_FOUND');
    await b.remove(h, { missingOk: true });
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
