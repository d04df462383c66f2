import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { CodecPool, Repository } from '../../repo/index.js';
import { LocalBackend } from '../../storage/local/local-backend.js';
import { decodeTree, encodeTree, findSnapshot, loadTree } from '../../tree/index.js';
import { backup, BackupRun } from './backup.js';

test('incremental: an unchanged directory keeps its parent tree; any change below it — content, mode, a name — makes a new one', async () => {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'sb-backup-'));
  const src = path.join(root, 'src');
  for (const d of ['a/x', 'a/y', 'b']) await fs.mkdir(path.join(src, d), { recursive: true });
  for (let i = 0; i < 150; i++) await fs.writeFile(path.join(src, i % 2 ? 'a/x' : 'b', `f${i}.txt`), `file ${i}`);
  await fs.writeFile(path.join(src, 'a/y/deep.txt'), 'deep');
  const repo = await Repository.init(new LocalBackend(path.join(root, 'repo')), 'pw', { scrypt: { N: 1024, r: 8, p: 1 } });
  const pool = new CodecPool(repo.master, repo.config, 1);
  const subtree = async (tree: string, ...names: string[]): Promise<string> => {
    for (const n of names) tree = (await loadTree(repo, tree)).nodes.find((x) => x.name === n)!.subtree!;
    return tree;
  };
  try {
    let last = await backup({ repo, pipeline: pool, paths: [src] });
    const snap = async () => {
      const parent = await findSnapshot(repo, last.id);
      last = await backup({ repo, pipeline: pool, paths: [src], parent });
      return { prev: parent.snapshot, next: last.snapshot };
    };
    const parts = src.split('/').filter(Boolean);

    let { prev, next } = await snap();
    // From src down: the trees above it hold the metadata of shared directories like the temporary
    // directory, which tests running beside this one change at any time.
    assert.equal(await subtree(next.tree, ...parts), await subtree(prev.tree, ...parts), 'nothing changed: the same tree');
    // Nothing new but, at most, the trees above src (a few hundred bytes).
    assert.ok(next.summary.storedBytes < 1024, `stored ${next.summary.storedBytes} bytes`);
    assert.equal(next.summary.newFiles + next.summary.changedFiles, 0);
    assert.equal(next.summary.unchangedFiles, 151);

    await fs.writeFile(path.join(src, 'a/y/deep.txt'), 'DEEP');
    ({ prev, next } = await snap());
    assert.notEqual(next.tree, prev.tree);
    assert.equal(await subtree(next.tree, ...parts, 'b'), await subtree(prev.tree, ...parts, 'b'), 'a directory beside the change keeps its tree');
    assert.equal(await subtree(next.tree, ...parts, 'a', 'x'), await subtree(prev.tree, ...parts, 'a', 'x'));
    assert.notEqual(await subtree(next.tree, ...parts, 'a', 'y'), await subtree(prev.tree, ...parts, 'a', 'y'));

    await fs.chmod(path.join(src, 'a/x'), 0o700);
    ({ prev, next } = await snap());
    assert.notEqual(await subtree(next.tree, ...parts, 'a'), await subtree(prev.tree, ...parts, 'a'), "a subdirectory's mode is in its parent's tree");
    assert.equal(await subtree(next.tree, ...parts, 'a', 'x'), await subtree(prev.tree, ...parts, 'a', 'x'));

    await fs.chmod(path.join(src, 'b', 'f0.txt'), 0o600);
    ({ prev, next } = await snap());
    assert.notEqual(await subtree(next.tree, ...parts, 'b'), await subtree(prev.tree, ...parts, 'b'), "a file's mode");
    assert.equal((await loadTree(repo, await subtree(next.tree, ...parts, 'b'))).nodes.find((n) => n.name === 'f0.txt')!.mode, 0o600);

    await fs.rename(path.join(src, 'b', 'f2.txt'), path.join(src, 'b', 'g2.txt'));
    ({ prev, next } = await snap());
    assert.notEqual(await subtree(next.tree, ...parts, 'b'), await subtree(prev.tree, ...parts, 'b'), 'a renamed file');
    const names = (await loadTree(repo, await subtree(next.tree, ...parts, 'b'))).nodes.map((n) => n.name);
    assert.ok(names.includes('g2.txt') && !names.includes('f2.txt'));
    assert.equal(names.length, 75);
  } finally {
    await pool.close();
    await fs.rm(root, { recursive: true, force: true });
  }
});

test('incremental: every tree is what a snapshot that reads everything again writes, byte for byte, through changes of every kind and odd names', async () => {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'sb-backup-'));
  const src = path.join(root, 'src');
  const big = path.join(src, 'big');
  await fs.mkdir(big, { recursive: true });
  const odd = ['quote".txt', 'back\\slash', 'tab\tname', '東京.txt', '},{"name":"x'];
  for (let i = 0; i < 300; i++) await fs.writeFile(path.join(big, `f${String(i).padStart(3, '0')}`), `content ${i % 250}`);
  for (const n of odd) await fs.writeFile(path.join(big, n), n);
  const rawName = Buffer.concat([Buffer.from(big + '/'), Buffer.from([0x72, 0xff, 0xfe])]);
  await fs.writeFile(rawName, 'raw name');
  await fs.symlink('f001', path.join(big, 'link'));
  await fs.mkdir(path.join(big, 'sub'));
  await fs.writeFile(path.join(big, 'sub', 'inner'), 'inner');
  const repo = await Repository.init(new LocalBackend(path.join(root, 'repo')), 'pw', { scrypt: { N: 1024, r: 8, p: 1 } });
  const pool = new CodecPool(repo.master, repo.config, 1);
  const canonical = async (tree: string): Promise<void> => {
    const data = await repo.loadBlob(Buffer.from(tree, 'hex'));
    const nodes = decodeTree(data).nodes;
    assert.ok(encodeTree(nodes).equals(data), 'a tree in encodeTree\'s own bytes');
    for (const n of nodes) if (n.type === 'dir') await canonical(n.subtree!);
  };
  const below = async (tree: string): Promise<string> => {
    for (const n of src.split('/').filter(Boolean)) tree = (await loadTree(repo, tree)).nodes.find((x) => x.name === n)!.subtree!;
    return tree;
  };
  try {
    let last = await backup({ repo, pipeline: pool, paths: [src] });
    const changes: (() => Promise<unknown>)[] = [
      async () => undefined,
      () => fs.writeFile(path.join(big, 'f010'), 'changed'),
      () => fs.appendFile(path.join(big, odd[0]!), '+'),
      () => fs.chmod(path.join(big, 'f020'), 0o600),
      () => fs.rm(path.join(big, 'f030')),
      () => fs.writeFile(path.join(big, 'new'), 'new'),
      () => fs.writeFile(rawName, 'raw name changed'),
      () => fs.utimes(path.join(big, 'f040'), new Date(1e12), new Date(1e12)),
      () => fs.writeFile(path.join(big, 'sub', 'inner'), 'inner changed'),
      () => fs.link(path.join(big, 'f050'), path.join(big, 'f050-link')),
    ];
    for (const change of changes) {
      await change();
      const parent = await findSnapshot(repo, last.id);
      last = await backup({ repo, pipeline: pool, paths: [src], parent });
      const fresh = await backup({ repo, pipeline: pool, paths: [src] });
      // From src down (the trees above it hold the shared temporary directory, which other tests change).
      assert.equal(await below(last.snapshot.tree), await below(fresh.snapshot.tree), String(change));
      await canonical(last.snapshot.tree);
    }
    assert.ok(last.snapshot.summary.unchangedFiles > 290);
  } finally {
    await pool.close();
    await fs.rm(root, { recursive: true, force: true });
  }
});

test('the estimate counts what the walk will save: files and their bytes, excluded entries and unreadable directories left out', async () => {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'sb-backup-'));
  const src = path.join(root, 'src');
  await fs.mkdir(path.join(src, 'a', 'deep'), { recursive: true });
  await fs.mkdir(path.join(src, 'skip'));
  await fs.writeFile(path.join(src, 'one'), '12345');
  await fs.writeFile(path.join(src, 'a', 'deep', 'two'), '1234567');
  await fs.writeFile(path.join(src, 'skip', 'big'), Buffer.alloc(1000));
  await fs.writeFile(path.join(src, 'x.tmp'), Buffer.alloc(1000));
  await fs.symlink('one', path.join(src, 'link'));
  const repo = await Repository.init(new LocalBackend(path.join(root, 'repo')), 'pw', { scrypt: { N: 1024, r: 8, p: 1 } });
  const pool = new CodecPool(repo.master, repo.config, 1);
  try {
    const run = new BackupRun({ repo, pipeline: pool, paths: [src], excludes: ['skip', '*.tmp'] });
    await run.estimate([src, path.join(src, 'one')]);
    assert.deepEqual([run.counters.totalFiles, run.counters.totalBytes], [4, 17]);
  } finally {
    await pool.close();
    await fs.rm(root, { recursive: true, force: true });
  }
});
