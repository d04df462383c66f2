import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { test } from 'node:test';
import { Cli, describeTree, tmp, writeRandom } from './testing/cli.js';

/**
 * The native chunk core (native/core.c) and the TypeScript reference write one format:
 * what one stores, the other finds already stored (the same chunks, ids and trees), and
 * each restores and checks the other's snapshots. STRONGBOX_NATIVE=0 runs the reference.
 */
const REFERENCE = { STRONGBOX_NATIVE: '0' };
const NATIVE = {};

async function tree(dir: string): Promise<void> {
  await writeRandom(path.join(dir, 'media/random.bin'), 21 * 1024 * 1024 + 17, 3);
  await fs.mkdir(path.join(dir, 'db'), { recursive: true });
  await fs.writeFile(path.join(dir, 'db/dump.sql'), 'INSERT INTO notes VALUES (42, \'a note\', now());\n'.repeat(250_000));
  // A disk image: zeros with data at both ends and in the middle.
  const img = Buffer.alloc(24 * 1024 * 1024);
  img.write('boot sector', 0);
  img.write('a superblock', 12 * 1024 * 1024 + 5);
  img.write('the end', img.length - 7);
  await fs.writeFile(path.join(dir, 'disk.img'), img);
  for (let i = 0; i < 300; i++) {
    await fs.mkdir(path.join(dir, `small/${i % 17}`), { recursive: true });
    await fs.writeFile(path.join(dir, `small/${i % 17}/note-${i}.txt`), `note ${i}\n`.repeat(1 + (i % 97) * 13));
  }
  await fs.writeFile(path.join(dir, 'small/empty'), '');
}

for (const [first, second, names] of [
  [REFERENCE, NATIVE, 'reference then native'],
  [NATIVE, REFERENCE, 'native then reference'],
] as const) {
  test(`the native core and the TypeScript reference write the same repository (${names})`, async () => {
    const root = tmp();
    const src = path.join(root, 'src');
    await tree(src);
    const cli = new Cli(path.join(root, 'repo'));
    cli.init(['--pack-size', '4']);
    type Created = { id: string; summary: { files: number; newBytes: number; bytes: number } };
    const a = cli.json<Created>(['snapshot', 'create', '--path', src], first);
    assert.ok(a.summary.newBytes > 40 * 1024 * 1024, `the first stored ${a.summary.newBytes} bytes`);
    // Every file read again by the other core: every chunk and every tree is already there.
    const b = cli.json<Created>(['snapshot', 'create', '--path', src, '--force'], second);
    assert.equal(b.summary.bytes, a.summary.bytes);
    // Nothing new but, at most, the trees of src's ancestors: /tmp's mtime changes when any
    // process makes a file there (the snapshot keeps the parents' metadata).
    const under = (id: string) => cli.json<{ path: string }[]>(['snapshot', 'ls', id]).filter((e) => e.path.startsWith(src));
    assert.deepEqual(under(b.id), under(a.id));
    assert.ok(b.summary.newBytes < 2048, `the other core stored ${b.summary.newBytes} new bytes (only the parents' trees may differ)`);

    const want = await describeTree(src);
    for (const [id, env, where] of [
      [a.id, second, 'a'],
      [b.id, first, 'b'],
    ] as const) {
      const target = path.join(root, `restore-${where}`);
      const res = cli.json<{ errors: unknown[] }>(['snapshot', 'restore', id, '--target', target], env);
      assert.deepEqual(res.errors, []);
      assert.deepEqual(await describeTree(path.join(target, src)), want);
    }
    cli.ok(['repo', 'check', '--read-data'], first);
    cli.ok(['repo', 'check', '--read-data'], second);
  });
}
