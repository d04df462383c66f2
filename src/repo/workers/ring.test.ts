import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RingSpace } from './ring.js';

test('a ring hands out space in order, wraps, and waits for the oldest blob', () => {
  const r = new RingSpace(100);
  assert.equal(r.place(101), -1, 'larger than the ring');
  assert.equal(r.place(40), 0);
  r.take(0, 30);
  assert.equal(r.place(40), 30);
  r.take(30, 40);
  assert.equal(r.place(40), -1, 'no room at the end, and the start is in use');
  r.free(30);
  assert.equal(r.place(40), -1, 'a younger blob freed first gives nothing back');
  r.free(0);
  assert.equal(r.inUse, 0);
  assert.equal(r.place(100), 0, 'empty: the whole ring');
  r.take(0, 60);
  r.take(r.place(30), 30);
  r.free(0);
  assert.equal(r.place(40), 0, 'wraps to the start once the oldest is freed');
  r.take(0, 25);
  assert.equal(r.place(35), -1, 'never fills up to the oldest blob in use (60)');
  assert.equal(r.place(34), 25);
});

test('a ring stays low: it wraps as soon as the start has room (and an eighth of the ring more), so its touched pages are about what is in flight', () => {
  const r = new RingSpace(1000);
  const live: number[] = [];
  for (let i = 0; i < 1000; i++) {
    const at = r.place(10 + (i % 7));
    assert.ok(at >= 0, `blob ${i} placed`);
    r.take(at, 10 + (i % 7));
    live.push(at);
    // At most four blobs in flight, freed oldest first or second.
    if (live.length > 4) r.free(live.splice(i % 2, 1)[0]!);
  }
  // At most 5 blobs of at most 16 bytes in flight, the eighth of the ring kept free, one blob more: 221 (the whole ring without this).
  assert.ok(r.touched <= 5 * 16 + 1000 / 8 + 16, `touched ${r.touched} of 1000 bytes with at most 5 blobs of at most 16 bytes in flight`);
  // When the start has no room, the ring goes on past what it touched.
  const s = new RingSpace(100);
  s.take(s.place(30), 30);
  s.take(s.place(30), 30);
  assert.equal(s.place(30), 60);
});

test('a ring never hands out bytes still in use (random model)', () => {
  let seed = 12345;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  for (const size of [64, 1000, 4096]) {
    const r = new RingSpace(size);
    const owner = new Int32Array(size).fill(-1);
    const live: { start: number; len: number; id: number }[] = [];
    let placed = 0;
    for (let id = 0; id < 20_000; id++) {
      if (live.length > 0 && rand(3) === 0) {
        const b = live.splice(rand(live.length), 1)[0]!;
        for (let i = b.start; i < b.start + b.len; i++) owner[i] = -1;
        r.free(b.start);
        continue;
      }
      const room = 1 + rand(size / 4);
      const at = r.place(room);
      if (at < 0) continue;
      const len = 1 + rand(room);
      assert.ok(at + room <= size);
      for (let i = at; i < at + room; i++) assert.equal(owner[i], -1, `byte ${i} of a ${size}-byte ring handed out while in use`);
      for (let i = at; i < at + len; i++) owner[i] = id;
      r.take(at, len);
      live.push({ start: at, len, id });
      placed++;
    }
    assert.ok(placed > 5000, `the ring was used (${placed} blobs)`);
  }
});
