import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { test } from 'node:test';
import { Cli, listFiles, tmp, waitExit, waitForFiles, writeRandom } from './testing/cli.js';

async function du(dir: string): Promise<number> {
  let n = 0;
  for (const f of await listFiles(dir)) n += (await fs.stat(path.join(dir, f))).size;
  return n;
}

test('forget keeps what the policy says, prune reclaims the space and reports it, check stays clean', async () => {
  const root = tmp();
  const src = path.join(root, 'src');
  const cli = new Cli(path.join(root, 'repo'));
  cli.init(['--pack-size', '1']);
  const ids: string[] = [];
  for (let i = 0; i < 4; i++) {
    await writeRandom(path.join(src, 'data.bin'), 3 << 20, 50 + i);
    ids.push(cli.json<{ id: string }>(['snapshot', 'create', '--path', src]).id);
  }
  const refused = cli.run(['snapshot', 'forget']);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /No retention rule/);

  const dry = cli.json<{ removed: string[]; dryRun: boolean }>(['snapshot', 'forget', '--keep-last', '1', '--dry-run']);
  assert.equal(dry.dryRun, true);
  assert.deepEqual(dry.removed.sort(), ids.slice(0, 3).sort());
  assert.equal(cli.json<unknown[]>(['snapshot', 'list']).length, 4, 'a dry run removes nothing');

  const before = await du(path.join(root, 'repo', 'data'));
  const f = cli.json<{ removed: string[] }>(['snapshot', 'forget', '--keep-last', '1']);
  assert.equal(f.removed.length, 3);
  const plan = cli.json<{ reclaimedBytes: number; dryRun: boolean }>(['repo', 'prune', '--dry-run']);
  assert.equal(plan.dryRun, true);
  assert.equal(await du(path.join(root, 'repo', 'data')), before, 'a dry run deletes nothing');
  const pr = cli.json<{ reclaimedBytes: number; bytesBefore: number; bytesAfter: number }>(['repo', 'prune']);
  const after = await du(path.join(root, 'repo', 'data'));
  assert.equal(pr.bytesAfter, after);
  assert.equal(pr.reclaimedBytes, before - after);
  assert.ok(pr.reclaimedBytes > 8 << 20, `reclaimed only ${pr.reclaimedBytes}`);
  assert.ok(Math.abs(plan.reclaimedBytes - pr.reclaimedBytes) < 1 << 20, 'the dry run predicted the reclaimed space');
  assert.match(cli.ok(['repo', 'check', '--read-data']), /no errors were found/);
  const out = path.join(root, 'out');
  cli.ok(['snapshot', 'restore', ids[3]!.slice(0, 10), '--target', out]);
  assert.deepEqual(await fs.readFile(path.join(out, src, 'data.bin')), await fs.readFile(path.join(src, 'data.bin')));
});

test('snapshot delete + prune repacks partly used packs and keeps shared data', async () => {
  const root = tmp();
  const src = path.join(root, 'src');
  const cli = new Cli(path.join(root, 'repo'));
  cli.init(['--pack-size', '16']);
  await fs.mkdir(src, { recursive: true });
  for (let i = 0; i < 200; i++) await fs.writeFile(path.join(src, `small-${i}.txt`), `file ${i} `.repeat(50));
  const a = cli.json<{ id: string }>(['snapshot', 'create', '--path', src]);
  for (let i = 0; i < 100; i++) await fs.rm(path.join(src, `small-${i}.txt`));
  const b = cli.json<{ id: string }>(['snapshot', 'create', '--path', src]);
  cli.ok(['snapshot', 'delete', a.id.slice(0, 12)]);
  const pr = cli.json<{ repack: string[]; packsWritten: number }>(['repo', 'prune']);
  assert.equal(pr.repack.length, 1);
  assert.equal(pr.packsWritten, 1);
  assert.match(cli.ok(['repo', 'check', '--read-data']), /no errors were found/);
  const out = path.join(root, 'out');
  cli.ok(['snapshot', 'restore', b.id, '--target', out]);
  assert.equal((await listFiles(path.join(out, src))).length, 100);
});

test('keys: several passwords open one repository; passwd and remove', async () => {
  const root = tmp();
  const cli = new Cli(path.join(root, 'repo'), 'first password');
  cli.init();
  cli.ok(['repo', 'key', 'add'], { STRONGBOX_NEW_PASSWORD: 'second password' });
  const keys = cli.json<{ id: string; current: boolean }[]>(['repo', 'key', 'list']);
  assert.equal(keys.length, 2);
  const second = new Cli(cli.repo, 'second password');
  assert.equal(second.json<{ current: boolean }[]>(['repo', 'key', 'list']).filter((k) => k.current).length, 1);
  // The key in use cannot be removed; another can.
  const own = keys.find((k) => k.current)!;
  assert.equal(cli.run(['repo', 'key', 'remove', own.id.slice(0, 8)]).code, 1);
  cli.ok(['repo', 'key', 'remove', keys.find((k) => !k.current)!.id.slice(0, 8)]);
  assert.equal(second.run(['snapshot', 'list']).code, 12);
  // passwd replaces the current key.
  cli.ok(['repo', 'key', 'passwd'], { STRONGBOX_NEW_PASSWORD: 'third password' });
  assert.equal(cli.run(['snapshot', 'list']).code, 12);
  assert.equal(new Cli(cli.repo, 'third password').run(['snapshot', 'list']).code, 0);
});

test('locks: concurrent backups both succeed; prune waits for nobody and reports the holder; stale locks are removed', async () => {
  const root = tmp();
  const cli = new Cli(path.join(root, 'repo'));
  cli.init(['--pack-size', '1']);
  const a = path.join(root, 'a');
  const b = path.join(root, 'b');
  await writeRandom(path.join(a, 'x.bin'), 30 << 20, 1);
  await writeRandom(path.join(b, 'y.bin'), 30 << 20, 2);
  const [ra, rb] = await Promise.all([waitExit(cli.spawn(['snapshot', 'create', '--path', a])), waitExit(cli.spawn(['snapshot', 'create', '--path', b]))]);
  assert.equal(ra.code, 0, ra.stderr);
  assert.equal(rb.code, 0, rb.stderr);
  assert.equal(cli.json<unknown[]>(['snapshot', 'list']).length, 2);
  assert.match(cli.ok(['repo', 'check', '--read-data']), /no errors were found/);

  // A live backup holds a shared lock: prune is refused with exit 11 naming the holder.
  await writeRandom(path.join(a, 'z.bin'), 200 << 20, 3);
  const running = cli.spawn(['snapshot', 'create', '--path', a], { STRONGBOX_WORKERS: '1' });
  const done = waitExit(running);
  await waitForFiles(path.join(cli.repo, 'locks'), (f) => f.length > 0);
  // Held still while prune asks (a fast machine would otherwise finish the backup first): a stopped process holds its lock.
  running.kill('SIGSTOP');
  const locked = cli.run(['repo', 'prune']);
  running.kill('SIGCONT');
  assert.equal(locked.code, 11, locked.stderr);
  assert.match(locked.stderr, new RegExp(`shared lock .* pid ${running.pid}`));
  assert.match(locked.stderr, /strongbox repo unlock/);
  assert.equal((await done).code, 0);

  // A lock from a process that no longer exists is stale: prune ignores it and unlock removes it.
  const dead = cli.spawn(['snapshot', 'create', '--path', a, '--force'], { STRONGBOX_WORKERS: '1' });
  const deadDone = waitExit(dead);
  await waitForFiles(path.join(cli.repo, 'locks'), (f) => f.length > 0);
  dead.kill('SIGKILL');
  await deadDone;
  assert.equal(cli.run(['repo', 'prune']).code, 0);
  assert.match(cli.ok(['repo', 'unlock']), /removed 1 lock/);
  assert.deepEqual(await listFiles(path.join(cli.repo, 'locks')), []);
});

test('index rebuild recreates the index from the packs alone', async () => {
  const root = tmp();
  const src = path.join(root, 'src');
  await writeRandom(path.join(src, 'a.bin'), 5 << 20, 4);
  const repoDir = path.join(root, 'repo');
  const cli = new Cli(repoDir);
  cli.init(['--pack-size', '1']);
  cli.ok(['snapshot', 'create', '--path', src]);
  const packCount = (await listFiles(path.join(repoDir, 'data'))).length;
  const blobCount = cli.json<{ blobs: { data: number; tree: number } }>(['repo', 'stats']).blobs;
  await fs.rm(path.join(repoDir, 'index'), { recursive: true });
  await fs.mkdir(path.join(repoDir, 'index'));
  assert.equal(cli.run(['repo', 'check']).code, 1, 'check notices the missing index');
  const r = cli.json<{ packs: number; blobs: number }>(['repo', 'index', 'rebuild']);
  assert.deepEqual([r.packs, r.blobs], [packCount, blobCount.data + blobCount.tree]);
  assert.match(cli.ok(['repo', 'check', '--read-data']), /no errors were found/);
  const out = path.join(root, 'out');
  cli.ok(['snapshot', 'restore', 'latest', '--target', out]);
  assert.deepEqual(await fs.readFile(path.join(out, src, 'a.bin')), await fs.readFile(path.join(src, 'a.bin')));
});

test('index rebuild with a damaged pack header keeps what the old index knew of that pack, says so, and exits non-zero', async () => {
  const root = tmp();
  const src = path.join(root, 'src');
  await writeRandom(path.join(src, 'a.bin'), 3 << 20, 5);
  const repoDir = path.join(root, 'repo');
  const cli = new Cli(repoDir);
  cli.init(['--pack-size', '1']);
  cli.ok(['snapshot', 'create', '--path', src]);
  const packs = await listFiles(path.join(repoDir, 'data'));
  // Damage the last bytes (the header's length and the sealed header) of one pack; its blobs' data is untouched.
  const victim = path.join(repoDir, 'data', packs[0]!);
  const bytes = await fs.readFile(victim);
  bytes.fill(0xff, bytes.length - 8);
  await fs.chmod(victim, 0o644);
  await fs.writeFile(victim, bytes);
  const r = cli.run(['repo', 'index', 'rebuild', '--json']);
  assert.equal(r.code, 1, r.stderr);
  const res = JSON.parse(r.stdout) as { unreadable: { pack: string; keptFromIndex: boolean }[] };
  assert.deepEqual(res.unreadable.map((u) => [u.pack, u.keptFromIndex]), [[path.basename(packs[0]!), true]]);
  assert.match(r.stderr, /1 pack\(s\) could not be read/);
  // Nothing became unreachable: the old index's entries for that pack were kept, and its data still restores.
  const out = path.join(root, 'out');
  cli.ok(['snapshot', 'restore', 'latest', '--target', out]);
  assert.deepEqual(await fs.readFile(path.join(out, src, 'a.bin')), await fs.readFile(path.join(src, 'a.bin')));
});

test('repo stats reports deduplication across snapshots', async () => {
  const root = tmp();
  const src = path.join(root, 'src');
  await writeRandom(path.join(src, 'a.bin'), 4 << 20, 4);
  await fs.writeFile(path.join(src, 'text.txt'), 'compressible '.repeat(100000));
  const cli = new Cli(path.join(root, 'repo'));
  cli.init();
  cli.ok(['snapshot', 'create', '--path', src]);
  cli.ok(['snapshot', 'create', '--path', src, '--force']);
  const s = cli.json<{ snapshots: number; dedupRatio: number; compressionRatio: number }>(['repo', 'stats']);
  assert.equal(s.snapshots, 2);
  assert.ok(s.dedupRatio > 1.9, `dedup ${s.dedupRatio}`);
  assert.ok(s.compressionRatio > 1.2, `compression ${s.compressionRatio}`);
});
