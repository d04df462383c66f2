import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { decodeTree, encodeName, encodeTree, nameBytes, type TreeNode } from './node.js';

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

test('trees: encoded in pieces, the bytes are JSON.stringify\'s; decoded in pieces, the nodes are JSON.parse\'s, for crafted trees too', () => {
  const node = (i: number, name: string): TreeNode => ({ name, type: 'file', mode: 0o644, uid: i, gid: 0, mtimeNs: String(1e18 + i), size: i, content: [randomBytes(32).toString('hex')], ...(i % 7 === 0 ? { xattrs: { 'user.x': '},{"name":' } } : {}) });
  for (const count of [0, 1, 63, 64, 65, 1000, 5000]) {
    const nodes = Array.from({ length: count }, (_, i) => node(i, i % 5 === 0 ? `n${String(i).padStart(5, '0')}},{"name":"x` : `n${String(i).padStart(5, '0')}`));
    const enc = encodeTree(nodes);
    assert.ok(enc.equals(Buffer.from(JSON.stringify({ nodes }))), `${count} nodes`);
    assert.deepEqual(decodeTree(enc), JSON.parse(enc.toString()));
  }
  // Crafted: the text between nodes inside a nested list, in a string, whitespace, a trailing comma, an empty element.
  const filler = Array.from({ length: 900 }, (_, i) => JSON.stringify(node(i, `f${i}`))).join(',');
  const crafted = [
    `{"nodes":[${filler},{"name":"a","extra":[{"q":1},{"name":"b"}]},${filler}]}`,
    `{"nodes":[${filler},{"name":"a","s":"},{\\"name\\":"},${filler}]}`,
    `{"nodes":[${filler} ,{"name":"z"}]}`,
    `{"nodes":[${filler},{"name":"z"},]}`,
    `{"nodes":[${filler},,{"name":"z"}]}`,
    `{"nodes":[${filler}]}{"nodes":[]}`,
    `{"nodes":[${filler},{"name":"z"}}]}`,
  ];
  for (const text of crafted) {
    const data = Buffer.from(text);
    let whole: unknown;
    try {
      whole = JSON.parse(text);
    } catch (err) {
      assert.throws(() => decodeTree(data), { name: (err as Error).name });
      continue;
    }
    assert.deepEqual(decodeTree(data), whole);
  }
});
