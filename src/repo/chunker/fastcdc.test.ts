import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { createChunker, DEFAULT_CHUNKER, gearTable } from './fastcdc.js';

function chunks(data: Buffer, seed = Buffer.alloc(32, 7)): string[] {
  const c = createChunker(DEFAULT_CHUNKER, seed);
  const out: string[] = [];
  for (let pos = 0; pos < data.length; ) {
    const n = c.cut(data, pos, data.length);
    out.push(createHash('sha256').update(data.subarray(pos, pos + n)).digest('hex'));
    pos += n;
  }
  return out;
}

test('chunk sizes respect min and max, and average near the target', () => {
  const data = randomBytes(64 << 20);
  const c = createChunker(DEFAULT_CHUNKER, Buffer.alloc(32, 1));
  const sizes: number[] = [];
  for (let pos = 0; pos < data.length; ) {
    const n = c.cut(data, pos, data.length);
    sizes.push(n);
    pos += n;
  }
  for (const s of sizes.slice(0, -1)) {
    assert.ok(s >= DEFAULT_CHUNKER.min && s <= DEFAULT_CHUNKER.max, `chunk of ${s} bytes out of bounds`);
  }
  const avg = data.length / sizes.length;
  assert.ok(avg > 0.8 * DEFAULT_CHUNKER.avg && avg < 1.6 * DEFAULT_CHUNKER.avg, `average ${avg}`);
});

test('inserting bytes mid-file changes only the chunks around the edit', () => {
  const data = randomBytes(48 << 20);
  const mid = 24 << 20;
  const edited = Buffer.concat([data.subarray(0, mid), Buffer.from('inserted bytes!'), data.subarray(mid)]);
  const a = chunks(data);
  const b = new Set(chunks(edited));
  const changed = a.filter((h) => !b.has(h)).length;
  assert.ok(changed <= 2, `${changed} of ${a.length} chunks changed`);
});

test('boundaries depend on the repository seed', () => {
  const data = randomBytes(16 << 20);
  assert.notDeepEqual(chunks(data, Buffer.alloc(32, 1)), chunks(data, Buffer.alloc(32, 2)));
});

test('zero-filled data is cut at max and deduplicates to one chunk', () => {
  const z = chunks(Buffer.alloc(40 << 20));
  assert.ok(new Set(z.slice(0, -1)).size <= 1);
});

test('cut points match the byte-at-a-time definition in docs/FORMAT.md', () => {
  const seed = Buffer.alloc(32, 3);
  const c = createChunker(DEFAULT_CHUNKER, seed);
  const gear = Int32Array.from(gearTable(seed), (v) => v | 0);
  const { min, avg, max } = DEFAULT_CHUNKER;
  const top = (b: number) => ~((1 << (32 - b)) - 1) | 0;
  const reference = (buf: Buffer, start: number, end: number): number => {
    let n = end - start;
    if (n <= min) return n;
    if (n > max) n = max;
    let h = 0;
    for (let i = start + min; i < start + n; i++) {
      h = ((h << 1) + gear[buf[i]!]!) | 0;
      const mask = i < start + avg ? top(22) : top(18);
      if ((h & mask) === 0) return i - start + 1;
    }
    return n;
  };
  // Random data, long zero runs (skipped by block compares), and short ones.
  const data = Buffer.concat([randomBytes(6 << 20), Buffer.alloc(20 << 20), randomBytes(3 << 20), Buffer.alloc(5000), randomBytes(2 << 20), Buffer.alloc(9 << 20)]);
  for (let pos = 0; pos < data.length; ) {
    const want = reference(data, pos, data.length);
    assert.equal(c.cut(data, pos, data.length), want);
    pos += want;
  }
});
