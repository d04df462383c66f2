import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { encodeName, nameBytes } from './node.js';

test('names: UTF-8 travels as text, anything else also as its exact bytes; every name comes back byte for byte', () => {
  const cases = [Buffer.from('plain.txt'), Buffer.from('naïve — 東京 🎉'), Buffer.from([0xff, 0x41]), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from([0xc0, 0xaf]), Buffer.from([0xef, 0xbf, 0xbd]), Buffer.from([0xf4, 0x90, 0x80, 0x80])];
  for (let i = 0; i < 2000; i++) cases.push(randomBytes(1 + (i % 12)));
  for (const b of cases) {
    const e = encodeName(b);
    assert.ok(nameBytes(e).equals(b), b.toString('hex'));
    // Text alone only where the text encodes back to exactly these bytes.
    assert.equal(e.nameRaw === undefined, Buffer.from(b.toString('utf8'), 'utf8').equals(b), b.toString('hex'));
  }
});
