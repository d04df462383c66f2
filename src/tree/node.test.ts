import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { decodeTree, encodeName, encodeTree, nameBytes, splitNodes, type TreeNode } from './node.js';

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

test('trees: split into their nodes\' texts, each parsed alone, and given back to encodeTree as text — the same bytes; crafted trees are not split', () => {
  const node = (i: number): TreeNode => ({ name: `f${String(i).padStart(4, '0')}`, type: 'file', mode: 0o644, uid: 0, gid: 0, mtimeNs: '1', size: i, content: [randomBytes(32).toString('hex')], ...(i % 7 === 0 ? { xattrs: { 'user.a': '},{"name":' } } : {}) });
  for (const count of [0, 1, 5, 64, 65, 300]) {
    const nodes = Array.from({ length: count }, (_, i) => node(i));
    const data = encodeTree(nodes, true);
    const split = splitNodes(data)!;
    assert.ok(split, `${count} nodes split`);
    assert.deepEqual(split.nodes, JSON.parse(data.toString()).nodes);
    for (let k = 0; k < count; k++) assert.equal(data.toString('utf8', split.ranges[2 * k], split.ranges[2 * k + 1]), JSON.stringify(nodes[k]));
    // Every other node as its text, neighbours as one range or each alone: the bytes are the same.
    const text = (k: number) => data.subarray(split.ranges[2 * k], split.ranges[2 * k + 1]);
    const mixed = nodes.map((n, k) => (k % 2 === 0 ? text(k) : n));
    assert.ok(encodeTree(mixed, true).equals(data));
    if (count >= 3) assert.ok(encodeTree([data.subarray(split.ranges[0], split.ranges[5]), ...nodes.slice(3)], true).equals(data), 'a run of three');
  }
  assert.throws(() => encodeTree([Buffer.from('{}')]), /sorted/);
  const nodes = [node(1), node(2)];
  const good = encodeTree(nodes, true).toString();
  for (const bad of [
    good.replace('},{"name"', '}, {"name"'), // not cut between nodes as encodeTree writes them
    good.replace('"size":1', '"x":[{"a":1},{"name":"y"}],"size":1'), // the separator inside a node
    good.replace('{"nodes":[', '{"nodes": ['),
    good + ' ',
    '{"nodes":[1,2]}',
    '{"nodes":[null]}',
  ]) {
    assert.equal(splitNodes(Buffer.from(bad)), undefined, bad.slice(0, 80));
    // JSON.parse decides those that are JSON.
    try {
      assert.deepEqual(decodeTree(Buffer.from(bad)).nodes, JSON.parse(bad).nodes);
    } catch (err) {
      assert.throws(() => JSON.parse(bad));
      void err;
    }
  }
});
