import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { encodeTree, splitNodes, type TreeNode } from './node.js';
import { nativeScanNodes } from '../repo/index.js';
import { idsInto, N_CTIME_S, N_DEV, N_GID, N_IDS, N_INODE, N_LINKS, N_MODE, N_MTIME_S, N_SIZE, N_UID, NodeScan, S_CONTENT, S_CTIME, S_DEV, S_GROUP, S_INODE, S_MTIME, S_NAME, S_TYPE, S_USER, scanNode } from './scan.js';

const STRING_SLOTS: [number, keyof TreeNode][] = [
  [S_NAME, 'name'],
  [S_TYPE, 'type'],
  [S_USER, 'user'],
  [S_GROUP, 'group'],
  [S_MTIME, 'mtimeNs'],
  [S_CTIME, 'ctimeNs'],
  [S_INODE, 'inode'],
  [S_DEV, 'dev'],
];
const NUMBER_SLOTS: [number, keyof TreeNode][] = [
  [N_MODE, 'mode'],
  [N_UID, 'uid'],
  [N_GID, 'gid'],
  [N_SIZE, 'size'],
  [N_LINKS, 'links'],
];

/** What scanNode recorded for node k of `data`, as JSON.parse would have the same fields. */
function recorded(data: Buffer, scan: NodeScan, k: number): Partial<TreeNode> {
  const out: Record<string, unknown> = {};
  for (const [slot, key] of STRING_SLOTS) if (scan.has(k, slot)) out[key] = data.toString('utf8', scan.start(k, slot), scan.end(k, slot));
  for (const [slot, key] of NUMBER_SLOTS) if (!Number.isNaN(scan.num(k, slot))) out[key] = scan.num(k, slot);
  if (scan.has(k, S_CONTENT)) {
    const ids = new Uint8Array(32 * scan.num(k, N_IDS));
    idsInto(data, scan.start(k, S_CONTENT), scan.end(k, S_CONTENT), ids, 0);
    out.content = Array.from({ length: scan.num(k, N_IDS) }, (_, c) => Buffer.from(ids.subarray(32 * c, 32 * c + 32)).toString('hex'));
  }
  // The decimal strings' numbers: what the text says where it is canonical and exact.
  const time = (sl: number) => (Number.isNaN(scan.num(k, sl)) ? undefined : String(BigInt(scan.num(k, sl)) * 1_000_000_000n + BigInt(scan.num(k, sl + 1))));
  const whole = (sl: number) => (Number.isNaN(scan.num(k, sl)) ? undefined : String(scan.num(k, sl)));
  out.numbers = { mtimeNs: time(N_MTIME_S), ctimeNs: time(N_CTIME_S), inode: whole(N_INODE), dev: whole(N_DEV) };
  return out as Partial<TreeNode>;
}

/** The same fields of a parsed node (content ids as lowercase hex, as they are compared). */
function fieldsOf(node: TreeNode): Partial<TreeNode> {
  const out: Record<string, unknown> = {};
  for (const [, key] of [...STRING_SLOTS, ...NUMBER_SLOTS]) if (node[key] !== undefined) out[key] = node[key];
  if (node.content !== undefined) out.content = node.content.map((h) => h.toLowerCase());
  const canonical = (v: unknown, max: number) => (typeof v === 'string' && /^(0|[1-9][0-9]*)$/.test(v) && v.length <= max ? v : undefined);
  out.numbers = { mtimeNs: canonical(node.mtimeNs, 24), ctimeNs: canonical(node.ctimeNs, 24), inode: canonical(node.inode, 15), dev: canonical(node.dev, 15) };
  return out as Partial<TreeNode>;
}

function fileNode(i: number): TreeNode {
  const node: TreeNode = { name: i % 9 === 0 ? `naïve ${i} 東京` : `m${i}.txt`, type: 'file', mode: 0o644, uid: 1000 + (i % 3), gid: 100, mtimeNs: String(1_700_000_000_123_456_789n + BigInt(i)), size: i * 37, inode: String(1e15 + i), dev: '2049', links: 1, ctimeNs: i % 5 === 0 ? '0' : '1700000000999999999', content: Array.from({ length: i % 4 }, () => randomBytes(32).toString('hex')) };
  if (i % 2 === 0) Object.assign(node, { user: i % 6 === 0 ? 'jürgen' : 'app', group: 'app' });
  if (i % 7 === 0) node.xattrs = { 'user.comment': 'aGVsbG8=', 'security.selinux': 'c3lzdGVt' };
  return node;
}

test('scanNode reads the nodes encodeTree writes, with the values JSON.parse makes of them, and ends where each node ends', () => {
  const nodes: TreeNode[] = Array.from({ length: 300 }, (_, i) => fileNode(i));
  nodes.push({ name: 'dir', type: 'dir', mode: 0o755, uid: 0, gid: 0, mtimeNs: '5', subtree: 'ab'.repeat(32) });
  nodes.push({ name: 'link', type: 'symlink', mode: 0o777, uid: 0, gid: 0, mtimeNs: '5', target: '../étc/passwd' });
  nodes.push({ name: 'dev', type: 'chardev', mode: 0o600, uid: 0, gid: 0, mtimeNs: '5', rdev: '1025' });
  nodes.push({ name: 'hard', type: 'hardlink', mode: 0o600, uid: 0, gid: 0, mtimeNs: '5', linkTo: 'L3Vzcg==', size: 0 });
  nodes.push({ name: '', type: 'file', mode: 0, uid: 0, gid: 0, mtimeNs: '0', content: [] });
  const data = encodeTree(nodes);
  const scan = new NodeScan();
  const split = splitNodes(data, scan)!;
  const parsed = JSON.parse(data.toString()).nodes as TreeNode[];
  assert.equal(split.nodes.length, parsed.length);
  for (let k = 0; k < parsed.length; k++) {
    assert.equal(split.nodes[k], undefined, `node ${k} scanned, not parsed`);
    assert.deepEqual(recorded(data, scan, k), fieldsOf(parsed[k]!), `node ${k}`);
    assert.equal(data.toString('utf8', split.ranges[2 * k], split.ranges[2 * k + 1]), JSON.stringify(parsed[k]));
  }
  // The ranges are splitNodes' without the scanner.
  assert.deepEqual(split.ranges, splitNodes(data)!.ranges);
});

test('scanNode accepts only texts that are one JSON object standing alone, with JSON.parse\'s values; everything else is left to JSON.parse', () => {
  const scan = new NodeScan();
  scan.reserve(1);
  const base = (i: number) => JSON.stringify(fileNode(i));
  const refused = [
    base(1).replace('"mode":420', '"mode": 420'),
    base(1).replace('"mode":420', '"mode":420.0'),
    base(1).replace('"mode":420', '"mode":-420'),
    base(1).replace('"mode":420', '"mode":0420'),
    base(1).replace('"mode":420', '"mode":4.2e2'),
    base(1).replace('"mode":420', '"mode":"420"'),
    base(1).replace('"mode":420', '"mode":1234567890123456'),
    base(1).replace('"type":"file"', '"type":"fi\\u006ce"'),
    base(1).replace('"type":"file"', '"type":null'),
    base(1).replace('"type":"file"', '"type":"file","type":"dir"'),
    base(1).replace('"type":"file"', '"type":"file","extra":1'),
    base(1).replace('"name":"m1.txt"', '"name":"m1\\".txt"'),
    base(1).replace('"name":"m1.txt"', '"name":"m1\ttxt"'),
    base(1).replace('"name":"m1.txt"', '"name":"m1.txt","nameRaw":"bTE="'),
    base(1).replace('"name":"m1.txt",', ''),
    base(1).replace(/"content":\[[^\]]*\]/, '"content":["' + 'g'.repeat(64) + '"]'),
    base(1).replace(/"content":\[[^\]]*\]/, '"content":["' + 'a'.repeat(63) + '"]'),
    base(1).replace(/"content":\[[^\]]*\]/, '"content":[1]'),
    base(1).replace(/"content":\[[^\]]*\]/, '"content":["' + 'a'.repeat(64) + '",]'),
    base(7).replace('"user.comment":"aGVsbG8="', '"user.comment":{"a":"b"}'),
    base(1).slice(0, -1),
    base(1).slice(1),
    '{}',
    '[]',
    '',
  ];
  for (const text of refused) assert.equal(scanNode(Buffer.from(text), 0, Buffer.byteLength(text), scan, 0), -1, text);
  // Bytes that are not UTF-8 in a name are the raw name's business: left to JSON.parse.
  const raw = Buffer.concat([Buffer.from('{"name":"a'), Buffer.from([0xff]), Buffer.from('","type":"file","mode":0,"uid":0,"gid":0,"mtimeNs":"0"}')]);
  assert.equal(scanNode(raw, 0, raw.length, scan, 0), -1);
  // A node never reads past its limit.
  const whole = Buffer.from(base(2));
  for (let cut = 0; cut < whole.length; cut++) assert.equal(scanNode(whole, 0, cut, scan, 0), -1, `cut at ${cut}`);
  assert.equal(scanNode(whole, 0, whole.length, scan, 0), whole.length);

  // Mutated at random: whatever the scanner accepts, JSON.parse parses alone to the values it recorded.
  let accepted = 0;
  for (let round = 0; round < 20000; round++) {
    const text = Buffer.from(base(round % 50));
    const edits = 1 + (round % 3);
    let bytes = text;
    for (let e = 0; e < edits; e++) {
      const at = (round * 7919 + e * 104729) % bytes.length;
      const what = (round + e) % 3;
      const b = randomBytes(1)[0]! % 2 === 0 ? Buffer.from('",:{}[]0\\ -.e1a"'.charAt(round % 16)) : randomBytes(1);
      if (what === 0) bytes = Buffer.concat([bytes.subarray(0, at), b, bytes.subarray(at + 1)]);
      else if (what === 1) bytes = Buffer.concat([bytes.subarray(0, at), b, bytes.subarray(at)]);
      else bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + 1)]);
    }
    const stop = scanNode(bytes, 0, bytes.length, scan, 0);
    if (stop < 0) continue;
    accepted++;
    const parsed = JSON.parse(bytes.toString('utf8', 0, stop)) as TreeNode;
    assert.ok(parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed));
    assert.deepEqual(recorded(bytes, scan, 0), fieldsOf(parsed), bytes.toString());
  }
  assert.ok(accepted > 1000, `${accepted} mutated nodes accepted`);
});

test('the native core scans as the TypeScript scanner does: the same nodes accepted, the same values at the same places', () => {
  const native = nativeScanNodes();
  assert.ok(native, 'the native core has scanNodes (npm install builds it; libzstd-dev is a prerequisite)');
  const ts = new NodeScan();
  const c = new NodeScan(native);
  const same = (data: Buffer, from: number, limit: number, k: number, what: string) => {
    for (const s of [ts, c]) {
      s.reserve(k + 40);
      s.strings.fill(7);
      s.numbers.fill(7);
      s.ranges.fill(7);
    }
    const a = ts.run(data, from, limit, k);
    const b = c.run(data, from, limit, k);
    assert.equal(b, a, what);
    assert.deepEqual(c.strings, ts.strings, what);
    assert.deepEqual(c.numbers, ts.numbers, what);
    assert.deepEqual(c.ranges, ts.ranges, what);
    return a;
  };
  // Whole trees: every node, from the first and from the middle, cut short.
  const nodes = Array.from({ length: 30 }, (_, i) => fileNode(i));
  const tree = encodeTree(nodes);
  const body = tree.subarray(0, tree.length - 2);
  assert.equal(same(tree, 10, tree.length - 2, 0, 'whole tree'), 30);
  for (let cut = 11; cut < body.length; cut += 97) same(tree, 10, cut, 3, `cut at ${cut}`);
  // Mutated nodes, two at a time with a comma between, and bytes that are not UTF-8 in names.
  let accepted = 0;
  for (let round = 0; round < 20000; round++) {
    let bytes = Buffer.from(JSON.stringify(fileNode(round % 60)) + ',' + JSON.stringify(fileNode(round % 7)));
    for (let e = 0; e < 1 + (round % 3); e++) {
      const at = (round * 7919 + e * 104729) % bytes.length;
      const b = round % 5 === 0 ? Buffer.from([0x80 + (round % 0x80)]) : randomBytes(1)[0]! % 2 === 0 ? Buffer.from('",:{}[]0\\ -.e1a"'.charAt(round % 16)) : randomBytes(1);
      const what = (round + e) % 3;
      if (what === 0) bytes = Buffer.concat([bytes.subarray(0, at), b, bytes.subarray(at + 1)]);
      else if (what === 1) bytes = Buffer.concat([bytes.subarray(0, at), b, bytes.subarray(at)]);
      else bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + 1)]);
    }
    accepted += same(bytes, 0, bytes.length, round % 5, bytes.toString('latin1'));
  }
  assert.ok(accepted > 3000, `${accepted} mutated nodes accepted`);
  // Names of random bytes above 0x7f: well-formed UTF-8 (as Buffer's isUtf8 has it) or left to JSON.parse.
  let utf8 = 0;
  for (let round = 0; round < 20000; round++) {
    const name = Buffer.from(Array.from({ length: 1 + (round % 5) }, (_, j) => (j === 0 ? 0xc0 + (randomBytes(1)[0]! % 0x40) : 0x80 + (randomBytes(1)[0]! % (round % 2 === 0 ? 0x40 : 0x80)))));
    const bytes = Buffer.concat([Buffer.from('{"name":"'), name, Buffer.from('","type":"file","mode":0,"uid":0,"gid":0,"mtimeNs":"0"}')]);
    utf8 += same(bytes, 0, bytes.length, 0, name.toString('hex'));
  }
  assert.ok(utf8 > 1000 && utf8 < 19000, `${utf8} of the names well-formed`);
  // Crafted arguments are refused, not read past.
  assert.throws(() => native(tree, 0, tree.length + 1, c.strings, c.numbers, c.ranges, 0), TypeError);
  assert.throws(() => native(tree, 5, 4, c.strings, c.numbers, c.ranges, 0), TypeError);
  // No room: nothing scanned, nothing written.
  assert.equal(native(tree, 10, tree.length - 2, new Uint32Array(18), new Float64Array(12), new Uint32Array(2), 1), 0);
});
