import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { test } from 'node:test';
import { getAttributeSync, setAttributeSync } from 'fs-xattr';
import { allocatedBytes, Cli, describeTree, listFiles, tmp, writeRandom } from './testing/cli.js';

/** Builds a tree with every kind of entry the format promises to keep. */
async function richTree(dir: string): Promise<void> {
  await fs.mkdir(path.join(dir, 'docs/empty'), { recursive: true });
  await fs.writeFile(path.join(dir, 'docs/readme.txt'), 'hello strongbox\n');
  await fs.writeFile(path.join(dir, 'docs/zero-length'), '');
  await fs.writeFile(path.join(dir, 'docs/config.yml'), 'a: 1\n'.repeat(1000));
  await fs.chmod(path.join(dir, 'docs/config.yml'), 0o640);
  await writeRandom(path.join(dir, 'media/big.bin'), 9 * 1024 * 1024 + 123, 7);
  await fs.symlink('../docs/readme.txt', path.join(dir, 'media/link-to-readme'));
  await fs.symlink('/nonexistent/target', path.join(dir, 'media/dangling'));
  await fs.link(path.join(dir, 'docs/readme.txt'), path.join(dir, 'docs/hardlink.txt'));
  // A name that is not valid UTF-8 must survive byte for byte.
  await fs.writeFile(Buffer.concat([Buffer.from(dir + '/docs/latin1-'), Buffer.from([0xe9, 0xff]), Buffer.from('.txt')]), 'bytes name');
  // A sparse file: 64 MiB with a little data at both ends.
  const fh = await fs.open(path.join(dir, 'sparse.img'), 'w');
  await fh.write(Buffer.from('start'), 0, 5, 0);
  await fh.write(Buffer.from('end'), 0, 3, 64 * 1024 * 1024 - 3);
  await fh.close();
  await fs.utimes(path.join(dir, 'docs/readme.txt'), new Date('2001-02-03T04:05:06Z'), new Date('2001-02-03T04:05:06Z'));
  const { execFileSync } = await import('node:child_process');
  execFileSync('mkfifo', [path.join(dir, 'docs/pipe')]);
  // Extended attributes on a file and a directory (binary value included).
  setAttributeSync(path.join(dir, 'docs/config.yml'), 'user.strongbox.test', Buffer.from([0, 1, 2, 255]));
  setAttributeSync(path.join(dir, 'docs'), 'user.origin', 'e2e');
  setAttributeSync(path.join(dir, 'media/big.bin'), 'user.kind', 'video');
}

test('snapshot create → list → show → ls → restore round-trips every kind of entry', async () => {
  const root = tmp();
  const src = path.join(root, 'src');
  await richTree(src);
  const cli = new Cli(path.join(root, 'repo'));
  cli.init(['--pack-size', '4']);

  const created = cli.json<{ id: string; partial: boolean; summary: { files: number } }>(['snapshot', 'create', '--path', src, '--tag', 'first']);
  assert.match(created.id, /^[0-9a-f]{64}$/);
  assert.equal(created.partial, false);

  const list = cli.json<{ id: string; tags: string[] }[]>(['snapshot', 'list']);
  assert.deepEqual(list.map((s) => [s.id, s.tags]), [[created.id, ['first']]]);
  assert.match(cli.ok(['snapshot', 'list']), new RegExp(created.id.slice(0, 8)));

  // Unique prefixes work for every command that takes an id.
  const shown = cli.json<{ id: string; paths: string[] }>(['snapshot', 'show', created.id.slice(0, 6)]);
  assert.deepEqual(shown.paths, [src]);

  const ls = cli.ok(['snapshot', 'ls', created.id.slice(0, 8), src + '/docs']);
  assert.match(ls, /readme\.txt/);
  assert.match(ls, /docs\/empty/);

  const target = path.join(root, 'restore');
  const res = cli.json<{ errors: unknown[] }>(['snapshot', 'restore', created.id, '--target', target]);
  assert.deepEqual(res.errors, []);
  const restored = path.join(target, src);
  assert.deepEqual(await describeTree(restored), await describeTree(src));
  // Hard links come back as hard links, sparse files come back sparse.
  const a = await fs.stat(path.join(restored, 'docs/readme.txt'));
  const b = await fs.stat(path.join(restored, 'docs/hardlink.txt'));
  assert.equal(a.ino, b.ino);
  assert.ok(allocatedBytes(path.join(restored, 'sparse.img')) < 1024 * 1024, 'sparse file was restored dense');
  assert.deepEqual(getAttributeSync(path.join(restored, 'docs/config.yml'), 'user.strongbox.test'), Buffer.from([0, 1, 2, 255]));
  assert.equal(getAttributeSync(path.join(restored, 'docs'), 'user.origin').toString(), 'e2e');
});

test('a second snapshot reads only changed files and stores only new data', async () => {
  const root = tmp();
  const src = path.join(root, 'src');
  await writeRandom(path.join(src, 'a.bin'), 6 << 20, 1);
  await writeRandom(path.join(src, 'b.bin'), 6 << 20, 2);
  await fs.writeFile(path.join(src, 'c.txt'), 'one');
  const cli = new Cli(path.join(root, 'repo'));
  cli.init();
  const first = cli.json<{ id: string; summary: { newBytes: number } }>(['snapshot', 'create', '--path', src]);
  await fs.writeFile(path.join(src, 'c.txt'), 'two!');
  const second = cli.json<{ parent: string; summary: { unchangedFiles: number; changedFiles: number; newBytes: number } }>(['snapshot', 'create', '--path', src]);
  assert.equal(second.parent, first.id);
  assert.equal(second.summary.unchangedFiles, 2);
  assert.equal(second.summary.changedFiles, 1);
  assert.ok(second.summary.newBytes < 10_000, `second snapshot added ${second.summary.newBytes} bytes`);
  const diff = cli.json<{ lines: { change: string; path: string }[] }>(['snapshot', 'diff', first.id, 'latest']);
  assert.deepEqual(diff.lines, [{ change: 'M', path: path.join(src, 'c.txt') }]);
  // A change of metadata only (the ctime moves): the new mode is recorded, the data is reused.
  await fs.chmod(path.join(src, 'a.bin'), 0o600);
  const third = cli.json<{ summary: { unchangedFiles: number; newBytes: number } }>(['snapshot', 'create', '--path', src]);
  assert.equal(third.summary.unchangedFiles, 3);
  assert.ok(third.summary.newBytes < 10_000, `third snapshot added ${third.summary.newBytes} bytes`);
  const out = path.join(root, 'out');
  cli.ok(['snapshot', 'restore', 'latest', '--target', out]);
  assert.equal((await fs.stat(path.join(out, src, 'a.bin'))).mode & 0o777, 0o600);
  assert.equal((await fs.stat(path.join(out, src, 'b.bin'))).mode & 0o777, (await fs.stat(path.join(src, 'b.bin'))).mode & 0o777);
  assert.equal((await fs.readFile(path.join(out, src, 'c.txt'))).toString(), 'two!');
});

test('restore --include restores only the chosen paths', async () => {
  const root = tmp();
  const src = path.join(root, 'src');
  await fs.mkdir(path.join(src, 'keep/deep'), { recursive: true });
  await fs.mkdir(path.join(src, 'skip'), { recursive: true });
  await fs.writeFile(path.join(src, 'keep/deep/x'), 'x');
  await fs.writeFile(path.join(src, 'skip/y'), 'y');
  const cli = new Cli(path.join(root, 'repo'));
  cli.init();
  cli.ok(['snapshot', 'create', '--path', src]);
  const target = path.join(root, 'out');
  cli.ok(['snapshot', 'restore', 'latest', '--target', target, '--include', path.join(src, 'keep')]);
  assert.deepEqual(await listFiles(target), [path.join(src.slice(1), 'keep/deep/x')]);
});

test('a restore of more files than one window plans (5,000 small files, shared contents, a large file last) brings every file back', async () => {
  const root = tmp();
  const src = path.join(root, 'src');
  // Spread over directories, every tenth content repeated far away: a blob wanted by files of
  // different windows, and packs read again by the next window.
  for (let d = 0; d < 10; d++) {
    await fs.mkdir(path.join(src, `d${d}`), { recursive: true });
    await Promise.all(Array.from({ length: 500 }, (_, i) => fs.writeFile(path.join(src, `d${d}`, `f${i}`), i % 10 === 0 ? `shared ${i}\n`.repeat(50) : `file ${d}/${i}\n`.repeat(1 + (i % 40)))));
  }
  await writeRandom(path.join(src, 'zz-large'), 3 * 1024 * 1024);
  const cli = new Cli(path.join(root, 'repo'));
  cli.init();
  cli.ok(['snapshot', 'create', '--path', src]);
  const target = path.join(root, 'out');
  cli.ok(['snapshot', 'restore', 'latest', '--target', target]);
  const restored = path.join(target, src);
  const got = await describeTree(restored);
  assert.equal(got.size, 5000 + 10 + 1);
  assert.deepEqual(got, await describeTree(src));
});

test('excludes skip matching entries', async () => {
  const root = tmp();
  const src = path.join(root, 'src');
  await fs.mkdir(path.join(src, 'cache'), { recursive: true });
  await fs.writeFile(path.join(src, 'cache/blob'), 'c');
  await fs.writeFile(path.join(src, 'a.tmp'), 't');
  await fs.writeFile(path.join(src, 'a.txt'), 't');
  const cli = new Cli(path.join(root, 'repo'));
  cli.init();
  cli.ok(['snapshot', 'create', '--path', src, '--exclude', '*.tmp', '--exclude', src + '/cache']);
  const entries = cli.json<{ path: string }[]>(['snapshot', 'ls', 'latest', src]).map((e) => path.basename(e.path));
  assert.deepEqual(entries, ['a.txt']);
});

test('exit codes: wrong password 12, no repository 10, usage 2, unknown snapshot 1, ambiguous or bad id 2', async () => {
  const root = tmp();
  const repo = path.join(root, 'repo');
  const cli = new Cli(repo);
  cli.init();
  const before = await listFiles(repo);
  const wrong = cli.run(['snapshot', 'create', '--path', root], { STRONGBOX_PASSWORD: 'not the password' });
  assert.equal(wrong.code, 12);
  assert.match(wrong.stderr, /Wrong password/);
  assert.deepEqual(await listFiles(repo), before, 'a wrong password changed the repository');

  const missing = new Cli(path.join(root, 'nowhere')).run(['snapshot', 'list']);
  assert.equal(missing.code, 10);
  assert.match(missing.stderr, new RegExp(`no Strongbox repository at ${path.join(root, 'nowhere')}`));
  assert.equal(new Cli(root).run(['snapshot', 'list']).code, 10);

  assert.equal(cli.run(['snapshot', 'create']).code, 2);
  assert.equal(cli.run(['no-such-command']).code, 2);
  assert.equal(cli.run(['snapshot', 'show', 'abcdef']).code, 1);
  assert.equal(cli.run(['snapshot', 'show', 'zz-not-hex']).code, 2);
  const noPw = cli.run(['snapshot', 'list'], { STRONGBOX_PASSWORD: undefined });
  assert.equal(noPw.code, 12);
  assert.match(noPw.stderr, /STRONGBOX_PASSWORD/);
  await fs.writeFile(path.join(root, 'a-file'), 'x');
  const onFile = new Cli(path.join(root, 'a-file')).run(['repo', 'init']);
  assert.equal(onFile.code, 2);
  assert.match(onFile.stderr, /exists and is not a directory/);
  const again = cli.run(['repo', 'init']);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /already holds/);
  const json = cli.run(['snapshot', 'list', '--json'], { STRONGBOX_PASSWORD: 'nope' });
  assert.deepEqual(JSON.parse(json.stderr).error.code, 'WRONG_PASSWORD');
});

test('the password never appears in the repository', async () => {
  const root = tmp();
  const repo = path.join(root, 'repo');
  const cli = new Cli(repo, 'PLAINTEXT-PASSWORD-MARKER');
  cli.init();
  await fs.writeFile(path.join(root, 'f'), 'PLAINTEXT-CONTENT-MARKER');
  cli.ok(['snapshot', 'create', '--path', path.join(root, 'f')]);
  for (const f of await listFiles(repo)) {
    const data = await fs.readFile(path.join(repo, f));
    assert.ok(!data.includes('PLAINTEXT-PASSWORD-MARKER'), `${f} contains the password`);
    assert.ok(!data.includes('PLAINTEXT-CONTENT-MARKER'), `${f} contains plaintext content`);
    assert.ok(!data.includes(path.basename(root)), `${f} contains a plaintext path`);
  }
});

test('--help teaches, with examples and exit codes', () => {
  const cli = new Cli('/nonexistent');
  const help = cli.ok(['--help']);
  assert.match(help, /Getting started/);
  assert.match(help, /12 wrong password/);
  assert.match(cli.ok(['snapshot', 'forget', '--help']), /--keep-daily/);
});

test('commands on a repository of files load neither the spec language nor the catalog (zod, yaml, better-sqlite3, kysely); commands that read specs do', async () => {
  // Memory every process would pay (docs/PERFORMANCE.md): the packages a command loads, seen by a resolve hook.
  const { pathToFileURL } = await import('node:url');
  const dir = tmp();
  const data = path.join(dir, 'data');
  await fs.mkdir(data);
  await fs.writeFile(path.join(data, 'a.txt'), 'a');
  const log = path.join(dir, 'loaded.txt');
  const hook = path.join(dir, 'hook.mjs');
  const register = path.join(dir, 'register.mjs');
  await fs.writeFile(
    hook,
    `import { appendFileSync } from 'node:fs';
export async function resolve(s, c, next) {
  const r = await next(s, c);
  const m = /\\/node_modules\\/((?:@[^/]+\\/)?[^/]+)\\//.exec(r.url);
  if (m) appendFileSync(${JSON.stringify(log)}, m[1] + '\\n');
  return r;
}
`,
  );
  await fs.writeFile(register, `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(hook).href)});\n`);
  const spec = path.join(dir, 'notes.yaml');
  await fs.writeFile(spec, `apiVersion: strongbox/v1\nkind: Application\nmetadata: { name: notes, version: 1.0.0 }\nspec:\n  components:\n    - name: uploads\n      files: { path: ${JSON.stringify(data)} }\n`);
  const cli = new Cli(path.join(dir, 'repo'));
  cli.ok(['repo', 'init']);
  const loaded = async (args: string[]): Promise<Set<string>> => {
    await fs.rm(log, { force: true });
    cli.ok(args, { NODE_OPTIONS: `--import ${pathToFileURL(register).href}` });
    return new Set((await fs.readFile(log, 'utf8')).split('\n').filter(Boolean));
  };
  for (const args of [['--help'], ['snapshot', 'create', '--path', data], ['snapshot', 'list'], ['snapshot', 'restore', 'latest', '--target', path.join(dir, 'out')], ['snapshot', 'ls', 'latest']]) {
    const l = await loaded(args);
    assert.ok(l.has('commander'), `the hook sees what strongbox ${args.join(' ')} loads`);
    for (const heavy of ['zod', 'yaml', 'better-sqlite3', 'kysely']) assert.ok(!l.has(heavy), `strongbox ${args.join(' ')} loaded ${heavy}`);
  }
  const validating = await loaded(['app', 'validate', '-f', spec]);
  assert.ok(validating.has('zod') && validating.has('yaml'), 'app validate reads the spec with the spec language');
});

test("an incremental snapshot of a large directory compares it with the parent's tree on a worker (the bundle's own job module) and keeps what did not change", async () => {
  // 1,500 entries make a parent tree well over the 32 KiB from which the backup lists a
  // directory and matches it on a worker (LIST_JOB): the command runs from dist/bundle/, so the
  // worker runs the bundle's parent-match entry; a worker that could not load it fails the run.
  const root = tmp();
  const src = path.join(root, 'src');
  await fs.mkdir(path.join(src, 'many'), { recursive: true });
  for (let i = 0; i < 1500; i++) await fs.writeFile(path.join(src, 'many', `file-${String(i).padStart(4, '0')}.txt`), `file ${i}\n`);
  const cli = new Cli(path.join(root, 'repo'));
  cli.init();
  const first = cli.json<{ id: string }>(['snapshot', 'create', '--path', src]);
  await fs.writeFile(path.join(src, 'many', 'file-0700.txt'), 'changed\n');
  await fs.writeFile(path.join(src, 'many', 'file-9999.txt'), 'new\n');
  const second = cli.json<{ parent: string; summary: { newFiles: number; changedFiles: number; unchangedFiles: number } }>(['snapshot', 'create', '--path', src]);
  assert.equal(second.parent, first.id);
  assert.deepEqual([second.summary.newFiles, second.summary.changedFiles, second.summary.unchangedFiles], [1, 1, 1499]);
  const out = path.join(root, 'out');
  cli.ok(['snapshot', 'restore', 'latest', '--target', out]);
  assert.equal(await fs.readFile(path.join(out, src, 'many', 'file-0700.txt'), 'utf8'), 'changed\n');
  assert.equal(await fs.readFile(path.join(out, src, 'many', 'file-0701.txt'), 'utf8'), 'file 701\n');
  assert.equal((await fs.readdir(path.join(out, src, 'many'))).length, 1501);
});
