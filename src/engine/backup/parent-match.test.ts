import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { CodecPool, Listing, listDirectory, Repository } from '../../repo/index.js';
import { LocalBackend } from '../../storage/local/local-backend.js';
import { findNode } from '../../tree/index.js';
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
