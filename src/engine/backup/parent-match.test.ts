import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { randomBytes } from 'node:crypto';
import { CodecPool, F_CTIME_S, F_DEV, F_GID, F_INO, F_KIND, F_MODE, F_MTIME_S, F_NLINK, F_SIZE, F_UID, FIELDS, Listing, listDirectory, Repository, type DirListing } from '../../repo/index.js';
import { LocalBackend } from '../../storage/local/local-backend.js';
import { decodeTree, encodeTree, findNode, findSnapshot, NodeScan, splitNodes, type TreeNode } from '../../tree/index.js';
import { backup } from './backup.js';
import { LIST_JOB, matchParent, type ListOutput } from './parent-match.js';

test('a directory compared with its parent tree on a worker: what matchParent finds here; unchanged files are "same", changed ones not; a worker runs only Strongbox\'s own modules', async () => {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'sb-match-'));
  const src = path.join(root, 'src');
  await fs.mkdir(path.join(src, 'sub'), { recursive: true });
  for (let i = 0; i < 40; i++) await fs.writeFile(path.join(src, `f${i}`), `file ${i}`);
  await fs.writeFile(path.join(src, 'empty'), '');
  const repo = await Repository.init(new LocalBackend(path.join(root, 'repo')), 'pw', { scrypt: { N: 1024, r: 8, p: 1 } });
  const pool = new CodecPool(repo.master, repo.config, 1);
  try {
    const first = await backup({ repo, pipeline: pool, paths: [src] });
    const dir = await findNode(repo, first.snapshot.tree, src);
    assert.equal(dir?.type, 'dir');
    const tree = await repo.loadBlob(Buffer.from(dir!.subtree!, 'hex'));
    await fs.writeFile(path.join(src, 'f3'), 'changed');
    await fs.utimes(path.join(src, 'f7'), new Date(1e12), new Date(1e12));
    await fs.writeFile(path.join(src, 'new'), 'new');
    const here = matchParent(new Listing(listDirectory(Buffer.from(src))), tree)!;
    const copy = new Uint8Array(tree);
    const there = await pool.run<ListOutput>(LIST_JOB, { path: new Uint8Array(Buffer.from(src)), tree: copy }, [copy.buffer]);
    assert.ok(there.match && there.tree && Buffer.from(there.tree).equals(tree));
    assert.deepEqual({ ...there.match, ids: Buffer.from(there.match.ids) }, { ...here, ids: Buffer.from(here.ids) });
    const list = new Listing(there.listing);
    const byName = new Map(Array.from({ length: list.length }, (_, i) => [list.name(i).toString(), i]));
    for (const f of ['f0', 'f39', 'empty']) assert.equal(here.same[byName.get(f)!], 1, f);
    for (const f of ['f3', 'f7', 'new', 'sub']) assert.equal(here.same[byName.get(f)!], 0, f);
    assert.equal(here.parent[byName.get('new')!], -1);
    assert.equal(here.nodes, 42);
    // Each kept node's text is the parent's node, and the ids are its content.
    const f0 = JSON.parse(tree.toString('utf8', here.start[byName.get('f0')!], here.end[byName.get('f0')!]));
    assert.equal(f0.name, 'f0');
    await assert.rejects(pool.run(new URL('file:///tmp/elsewhere.js'), {}), /only Strongbox's own modules/);
    await assert.rejects(pool.run(new URL('../../../../tmp/x.js', LIST_JOB), {}), /only Strongbox's own modules/);
  } finally {
    await pool.close();
    await fs.rm(root, { recursive: true, force: true });
  }
});

test('matchParent reads nodes in Strongbox\'s encoding from their bytes and decides exactly what parsing every node decides, for odd and crafted nodes too', () => {
  for (let round = 0; round < 30; round++) {
    const count = 50 + round * 40;
    // A listing: files (some with two links), a directory, times and inodes past 2^53.
    const entries = Array.from({ length: count }, (_, i) => {
      const name = Buffer.from(i % 11 === 0 ? `é${i}` : i % 13 === 0 && round % 2 === 1 ? `x${i}\u0001"` : `f${String(i).padStart(5, '0')}`);
      return { name, kind: i % 17 === 0 ? 1 : 0, mode: (i % 17 === 0 ? 0o40000 : 0o100000) | (i % 3 === 0 ? 0o600 : 0o644), uid: 1000 + (i % 2), gid: 100, size: i * 13, nlink: i % 19 === 0 ? 2 : 1, ino: i % 23 === 0 ? 2 ** 60 + i : 5000 + i, dev: 2049, ms: 1_700_000_000 + i, mns: (i * 7919) % 1e9, cs: i % 29 === 0 ? 0 : 1_700_000_100, cns: i * 3 };
    }).sort((a, b) => Buffer.compare(a.name, b.name));
    const meta = new Float64Array(count * FIELDS);
    const exact: Record<number, string> = {};
    entries.forEach((e, i) => {
      const b = i * FIELDS;
      Object.assign(meta, { [b + F_KIND]: e.kind, [b + F_MODE]: e.mode, [b + F_UID]: e.uid, [b + F_GID]: e.gid, [b + F_SIZE]: e.size, [b + F_NLINK]: e.nlink, [b + F_DEV]: e.dev, [b + F_MTIME_S]: e.ms, [b + F_MTIME_S + 1]: e.mns, [b + F_CTIME_S]: e.cs, [b + F_CTIME_S + 1]: e.cns });
      if (e.ino > Number.MAX_SAFE_INTEGER) [meta[b + F_INO], exact[b + F_INO]] = [NaN, String(BigInt(e.ino) + 1n)];
      else meta[b + F_INO] = e.ino;
    });
    const names = Buffer.concat(entries.map((e) => e.name));
    let off = 0;
    const dl: DirListing = { names, ends: Uint32Array.from(entries.map((e) => (off += e.name.length))), meta, errors: [], exact };
    const list = new Listing(dl);
    // The parent's nodes, as a backup made them, then changed: one field in some, odd encodings in others.
    const nodes: TreeNode[] = [];
    entries.forEach((e, i) => {
      if ((i + round) % 31 === 5) return; // a new file
      const ns = (s: number, n: number) => (s === 0 ? String(n) : String(s) + String(n).padStart(9, '0'));
      const node: TreeNode = { name: e.name.toString(), type: e.kind === 1 ? 'dir' : 'file', mode: e.mode & 0o7777, uid: e.uid, gid: e.gid, mtimeNs: ns(e.ms, e.mns), size: e.size, inode: list.text(i, F_INO), dev: String(e.dev), links: e.nlink, ctimeNs: ns(e.cs, e.cns), content: Array.from({ length: i % 3 }, () => randomBytes(32).toString('hex')) };
      if (i % 4 !== 3) Object.assign(node, { user: i % 8 === 0 ? 'jürgen' : `u${e.uid}`, group: 'staff' });
      // Odd rounds only: nodes the scanner leaves to JSON.parse.
      const change = (i * 7 + round) % 23;
      switch (round % 2 === 0 && [8, 9, 12, 13, 15].includes(change) ? -1 : change) {
        case 0: node.size = e.size + 1; break;
        case 1: node.mtimeNs = ns(e.ms, e.mns + 1); break;
        case 2: node.ctimeNs = '0' + node.ctimeNs!; break;
        case 3: node.inode = String(e.ino + 1); break;
        case 4: node.mode = 0o777; break;
        case 5: node.uid = e.uid + 1; break;
        case 6: delete node.links; break;
        case 7: node.content = [randomBytes(32).toString('hex').toUpperCase()]; break;
        case 8: node.content = ['z'.repeat(64)]; break;
        case 9: (node as unknown as Record<string, unknown>).size = String(e.size); break;
        case 10: node.xattrs = { 'user.a': 'b' }; break;
        case 11: delete node.ctimeNs; break;
        case 12: node.user = 42 as unknown as string; break;
        case 13: (node as unknown as Record<string, unknown>).extra = [1, { name: 'x' }]; break;
        case 14: node.type = 'hardlink'; break;
        case 15: node.links = 1.5; break;
        default:
      }
      nodes.push(node);
    });
    // Some trees out of order, or with a name twice: then a map by name decides.
    if (round % 6 === 2) [nodes[3], nodes[4]] = [nodes[4]!, nodes[3]!];
    if (round % 6 === 4) nodes.splice(10, 0, { ...nodes[10]!, size: 1 } as TreeNode);
    const tree = encodeTree(nodes, true);
    if (round % 2 === 0) assert.ok(splitNodes(tree, new NodeScan())!.nodes.every((node) => node === undefined), 'every node scanned');
    const scanned = matchParent(list, tree)!;
    const parsed = matchParent(list, tree, true)!;
    assert.ok(scanned && parsed, `round ${round}`);
    assert.deepEqual({ ...scanned, ids: Buffer.from(scanned.ids) }, { ...parsed, ids: Buffer.from(parsed.ids) }, `round ${round}`);
    const same = scanned.same.reduce((a, b) => a + b, 0);
    assert.ok(same > count / 3 && same < count, `round ${round}: ${same} of ${count} the same`);
  }
});

test('an incremental snapshot whose parent tree is damaged in the store reads that directory again, and its snapshot is whole', async () => {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'sb-match-damaged-'));
  const src = path.join(root, 'src');
  await fs.mkdir(src, { recursive: true });
  // Enough files that the parent's tree is compared on a worker (32 KiB and more).
  for (let i = 0; i < 200; i++) await fs.writeFile(path.join(src, `file-${String(i).padStart(4, '0')}.txt`), `content of file ${i}`);
  const repo = await Repository.init(new LocalBackend(path.join(root, 'repo')), 'pw', { scrypt: { N: 1024, r: 8, p: 1 } });
  const pool = new CodecPool(repo.master, repo.config, 1);
  try {
    const first = await backup({ repo, pipeline: pool, paths: [src] });
    const dir = await findNode(repo, first.snapshot.tree, src);
    const id = Buffer.from(dir!.subtree!, 'hex');
    const loc = repo.index.get(id)!;
    assert.ok(loc.rawLength >= 32 * 1024, `the tree is ${loc.rawLength} bytes`);
    const packs = await fs.readdir(path.join(root, 'repo', 'data'), { recursive: true });
    const pack = path.join(root, 'repo', 'data', packs.find((f) => f.endsWith(loc.pack))!);
    const fh = await fs.open(pack, 'r+');
    const byte = Buffer.alloc(1);
    await fh.read(byte, 0, 1, loc.offset + 30);
    byte[0]! ^= 0xff;
    await fh.write(byte, 0, 1, loc.offset + 30);
    await fh.close();
    // One file changed, so that the new tree is not the damaged one's id (a damaged blob stays in the index: `repo check` finds it).
    await fs.writeFile(path.join(src, 'file-0000.txt'), 'content of file 0');
    const second = await backup({ repo, pipeline: pool, paths: [src], parent: await findSnapshot(repo, first.id) });
    assert.equal(second.snapshot.summary.unchangedFiles, 0, 'nothing of the damaged tree was kept');
    assert.equal(second.snapshot.summary.files, 200);
    const again = await findNode(repo, second.snapshot.tree, src);
    const nodes = decodeTree(await repo.loadBlob(Buffer.from(again!.subtree!, 'hex'))).nodes;
    assert.equal(nodes.length, 200);
    for (let i = 0; i < 200; i += 37) assert.equal((await repo.loadBlob(Buffer.from(nodes[i]!.content![0]!, 'hex'))).toString(), `content of file ${i}`);
  } finally {
    await pool.close();
    await fs.rm(root, { recursive: true, force: true });
  }
});
