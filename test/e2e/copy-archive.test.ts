import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { test } from 'node:test';
import { Cli, describeTree, instanceCli, listFiles, tmp, writeRandom } from './testing/cli.js';
import { blobId, seal } from '../../src/repo/index.js';
import { craft, manifest, node } from './testing/forge.js';

async function source(): Promise<{ root: string; cli: Cli; src: string }> {
  const root = tmp('sb-copy-');
  const src = path.join(root, 'src');
  await writeRandom(path.join(src, 'big.bin'), 12 << 20, 4);
  for (let i = 0; i < 30; i++) await fs.writeFile(path.join(src, `t${i}.txt`), `text ${i}\n`.repeat(200));
  const cli = new Cli(path.join(root, 'repo-a'), 'password-A');
  cli.init();
  return { root, cli, src };
}

test('snapshot copy: to a repository with another password, only what it lacks, a re-run copies nothing; application snapshots keep their logs', async () => {
  const { root, cli, src } = await source();
  const spec = path.join(root, 'app.yaml');
  writeFileSync(spec, `apiVersion: strongbox/v1\nkind: Application\nmetadata: { name: site, version: "3" }\nspec:\n  components:\n    - name: www\n      files: { path: ${src} }\n`);
  const home = { STRONGBOX_HOME: path.join(root, 'home') };
  cli.ok(['app', 'add', '-f', spec], home);
  const a1 = cli.json<{ id: string }>(['snapshot', 'create', '--path', src]);
  await fs.writeFile(path.join(src, 't1.txt'), 'changed');
  const a2 = cli.json<{ id: string }>(['snapshot', 'create', '--app', 'site'], home);
  const targetDir = path.join(root, 'repo-b');
  const target = new Cli(targetDir, 'password-B');
  target.init();
  const first = cli.json<{ copied: { source: string; target: string }[]; bytesSent: number }>(['snapshot', 'copy', a1.id, '--to-repo', targetDir], { STRONGBOX_TO_PASSWORD: 'password-B' });
  assert.equal(first.copied.length, 1);
  const second = cli.json<{ copied: unknown[]; skipped: unknown[]; bytesSent: number }>(['snapshot', 'copy', '--all', '--to-repo', targetDir], { STRONGBOX_TO_PASSWORD: 'password-B' });
  assert.equal(second.copied.length, 1);
  assert.equal(second.skipped.length, 1);
  assert.ok(second.bytesSent < first.bytesSent / 4, `the second copy sends only what changed (${second.bytesSent} of ${first.bytesSent})`);
  const again = cli.json<{ copied: unknown[]; skipped: unknown[]; blobsSent: number }>(['snapshot', 'copy', '--all', '--to-repo', targetDir], { STRONGBOX_TO_PASSWORD: 'password-B' });
  assert.deepEqual([again.copied.length, again.skipped.length, again.blobsSent], [0, 2, 0]);
  const listed = target.json<{ id: string; type?: string }[]>(['snapshot', 'list']);
  assert.equal(listed.length, 2);
  const appCopy = listed.find((s) => s.type === 'application')!;
  assert.match(target.ok(['snapshot', 'logs', appCopy.id]), /site\/www: done/);
  const out = path.join(root, 'out');
  target.ok(['snapshot', 'restore', listed.find((s) => !s.type)!.id, '--target', out]);
  assert.equal(readFileSync(path.join(out, src, 'big.bin')).length, 12 << 20);
  assert.match(target.ok(['repo', 'check', '--read-data']), /no errors were found/);
  assert.match(cli.ok(['repo', 'check']), /no errors were found/);
  assert.equal(cli.run(['snapshot', 'copy', a2.id, '--to-repo', targetDir], { STRONGBOX_TO_PASSWORD: 'wrong' }).code, 12);
});

test('snapshot download/upload: an archive restores on a fresh instance that never saw the repository; bad archives are refused and change nothing', async () => {
  const { root, cli, src } = await source();
  const snap = cli.json<{ id: string }>(['snapshot', 'create', '--path', src]);
  const file = path.join(root, 'snap.sbx');
  cli.ok(['snapshot', 'download', snap.id, '-o', file], { STRONGBOX_ARCHIVE_PASSWORD: 'archive-pass' });
  assert.ok(existsSync(file));
  assert.deepEqual(readdirSync(root).filter((f) => f.includes('.partial')), [], 'no partial file is left');

  // A fresh instance: a new home and a new repository with its own password.
  const root2 = tmp('sb-fresh-');
  const fresh = instanceCli(root2, 'fresh-password');
  fresh.ok(['destination', 'add', 'main', path.join(root2, 'repo'), '--init']);
  const before = await listFiles(path.join(root2, 'repo'));
  const wrong = fresh.run(['snapshot', 'upload', file], { STRONGBOX_ARCHIVE_PASSWORD: 'nope' });
  assert.equal(wrong.code, 12);
  const bytes = readFileSync(file);
  const bad: [string, Buffer, RegExp][] = [
    ['truncated', bytes.subarray(0, bytes.length - 1000), /truncated|more than the file holds/],
    ['flipped byte', Buffer.concat([bytes.subarray(0, 4000), Buffer.from([bytes[4000]! ^ 1]), bytes.subarray(4001)]), /checksum does not match/],
    ['not an archive', Buffer.from('hello, I am a text file'), /does not start like one/],
    ['trailing junk', Buffer.concat([bytes, Buffer.from('junk')]), /trailer/],
  ];
  for (const [what, data, message] of bad) {
    const f = path.join(root, `${what}.sbx`);
    writeFileSync(f, data);
    const r = fresh.run(['snapshot', 'upload', f], { STRONGBOX_ARCHIVE_PASSWORD: 'archive-pass' });
    assert.equal(r.code, 1, `${what}: ${r.stderr}`);
    assert.match(r.stderr, message, what);
    assert.match(r.stderr, /Nothing was imported/);
  }
  assert.deepEqual(await listFiles(path.join(root2, 'repo')), before, 'bad archives leave nothing behind');

  const up = fresh.json<{ copied: { target: string }[] }>(['snapshot', 'upload', file], { STRONGBOX_ARCHIVE_PASSWORD: 'archive-pass' });
  assert.equal(up.copied.length, 1);
  const out = path.join(root2, 'out');
  fresh.ok(['snapshot', 'restore', 'latest', '--target', out]);
  assert.deepEqual(await describeTree(path.join(out, src)), await describeTree(src));
  assert.equal(fresh.json<{ copied: unknown[] }>(['snapshot', 'upload', file], { STRONGBOX_ARCHIVE_PASSWORD: 'archive-pass' }).copied.length, 0, 'a second upload imports nothing');
});

test('hostile archives: path traversal, a symlink then a directory of the same name, a decompression bomb — nothing is written outside the target, nothing is imported', async () => {
  const root = tmp('sb-hostile-');
  const fresh = instanceCli(root, 'pw-fresh');
  fresh.ok(['destination', 'add', 'main', path.join(root, 'repo'), '--init']);
  const outside = path.join(root, 'outside');
  await fs.mkdir(outside);
  const file = (n: string) => node(n, 'file', { size: 5 });

  // 1. Names that climb out: "..", a name with a slash.
  const traversal = path.join(root, 'traversal.sbx');
  await craft(traversal, 'evil-pass', async (f) => {
    const content = [await f.data('owned')];
    return manifest(await f.tree([{ ...file('../../outside/pwned'), content }, { ...file('..'), content }, { ...file('fine.txt'), content }]));
  });
  // 2. A symlink "a" to the outside, then a directory "a" with a file in it.
  const symlinkDir = path.join(root, 'symlink.sbx');
  await craft(symlinkDir, 'evil-pass', async (f) => {
    const content = [await f.data('owned')];
    const inner = await f.tree([{ ...file('pwned'), content }]);
    // The forge keeps the crafted order (a symlink first, then a directory of the same name).
    return manifest(await f.tree([node('a', 'symlink', { mode: 0o777, target: outside }), node('a', 'dir', { subtree: inner })]));
  });
  for (const f of [traversal, symlinkDir]) {
    fresh.ok(['snapshot', 'upload', f], { STRONGBOX_ARCHIVE_PASSWORD: 'evil-pass' });
    const out = path.join(root, `out-${path.basename(f)}`);
    const r = fresh.run(['snapshot', 'restore', 'latest', '--target', out]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /refusing|cannot create directory/);
  }
  assert.deepEqual(readdirSync(outside), [], 'nothing was written outside the target');
  assert.equal(readFileSync(path.join(root, 'out-traversal.sbx', 'fine.txt'), 'utf8'), 'owned', 'the safe entries are restored');

  // 3. A blob whose zstd frame declares a terabyte: refused at upload, before anything is imported.
  const bomb = path.join(root, 'bomb.sbx');
  await craft(bomb, 'evil-pass', async ({ repo, saver, tree }) => {
    const frame = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0xe0, 0, 0, 0, 0, 0, 1, 0, 0, 1, 2, 3, 4]);
    const sealed = seal(repo.master.encrypt, [Uint8Array.of(1), frame]);
    const fakeId = blobId(repo.master.mac, Buffer.from('pretend'));
    saver.addSealed('data', fakeId, sealed, 1 << 30);
    return manifest(await tree([{ ...file('big'), content: [fakeId.toString('hex')] }]));
  });
  const snapsBefore = fresh.json<unknown[]>(['snapshot', 'list']).length;
  const r = fresh.run(['snapshot', 'upload', bomb], { STRONGBOX_ARCHIVE_PASSWORD: 'evil-pass' });
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /fails verification.*absurd .*Nothing was imported/);
  assert.equal(fresh.json<unknown[]>(['snapshot', 'list']).length, snapsBefore);
});
