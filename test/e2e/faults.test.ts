import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { test } from 'node:test';
import { Cli, describeTree, listFiles, tmp, waitExit, waitForFiles, writeRandom } from './testing/cli.js';
import { backup, check, restore, nodeFs, type SourceFs } from '../../src/engine/index.js';
import { CodecPool, Repository } from '../../src/repo/index.js';
import { LocalBackend } from '../../src/storage/local/local-backend.js';
import { findSnapshot } from '../../src/tree/index.js';

const isRoot = process.getuid?.() === 0;

test('an unreadable file: warning naming it, partial snapshot, exit 3', async () => {
  const root = tmp();
  const src = path.join(root, 'src');
  await fs.mkdir(src);
  await fs.writeFile(path.join(src, 'ok.txt'), 'fine');
  await fs.writeFile(path.join(src, 'secret.txt'), 'no access');
  await fs.chmod(path.join(src, 'secret.txt'), 0o000);
  const repo = path.join(root, 'repo');
  const cli = new Cli(repo);
  cli.init();
  let r;
  if (isRoot) {
    // root reads everything: run the backup as an unprivileged user instead.
    await fs.chmod(root, 0o777);
    execFileSync('chown', ['-R', 'nobody', repo, src]);
    await fs.chmod(path.join(src, 'secret.txt'), 0o000);
    const env = cli.env();
    const p = spawnSync('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', process.execPath, (await import('./testing/cli.js')).BIN, 'snapshot', 'create', '--path', src, '--json'], {
      env,
      encoding: 'utf8',
    });
    r = { code: p.status, stdout: p.stdout, stderr: p.stderr };
  } else r = cli.run(['snapshot', 'create', '--path', src, '--json']);
  assert.equal(r.code, 3, r.stderr);
  const snap = JSON.parse(r.stdout) as { id: string; partial: boolean; warnings: { path: string; message: string }[] };
  assert.equal(snap.partial, true);
  assert.equal(snap.warnings.length, 1);
  assert.equal(snap.warnings[0]!.path, path.join(src, 'secret.txt'));
  assert.match(snap.warnings[0]!.message, /permission denied/);
  assert.match(r.stderr, /secret\.txt/);
  assert.match(cli.ok(['snapshot', 'show', snap.id]), /partial: 1 item/);
  const ls = cli.json<{ path: string }[]>(['snapshot', 'ls', snap.id, src]).map((e) => path.basename(e.path));
  assert.deepEqual(ls, ['ok.txt']);
});

test('a file vanishing during the backup is a warning, the rest is saved', async () => {
  const root = tmp();
  const src = path.join(root, 'src');
  await fs.mkdir(src);
  await fs.writeFile(path.join(src, 'stays.txt'), 'here');
  await fs.writeFile(path.join(src, 'vanishes.txt'), 'gone soon');
  const backend = new LocalBackend(path.join(root, 'repo'));
  const repo = await Repository.init(backend, 'pw', { scrypt: { N: 1024, r: 8, p: 1 } });
  // The file is deleted for real between its stat and its read.
  const racing: SourceFs = {
    ...nodeFs,
    lstat: async (p) => {
      const st = await nodeFs.lstat(p);
      if (p.toString().endsWith('vanishes.txt')) await fs.unlink(p);
      return st;
    },
  };
  const pool = new CodecPool(repo.master, repo.config, 1);
  try {
    const res = await backup({ repo, pipeline: pool, paths: [src], fs: racing });
    assert.equal(res.snapshot.partial, true);
    assert.deepEqual(res.snapshot.warnings.map((w) => w.path), [path.join(src, 'vanishes.txt')]);
    assert.match(res.snapshot.warnings[0]!.message, /vanished/);
    const out = path.join(root, 'out');
    await restore({ repo, writer: pool, snapshot: await findSnapshot(repo, res.id), target: out });
    assert.equal(await fs.readFile(path.join(out, src, 'stays.txt'), 'utf8'), 'here');
  } finally {
    await pool.close();
  }
});

test('a flipped byte in a pack: check --read-data names the pack, snapshot and file; the rest still restores', async () => {
  const root = tmp();
  const src = path.join(root, 'src');
  await writeRandom(path.join(src, 'victim.bin'), 3 << 20, 11);
  const repoDir = path.join(root, 'repo');
  const cli = new Cli(repoDir);
  cli.init(['--pack-size', '1']);
  const first = cli.json<{ id: string }>(['snapshot', 'create', '--path', src]);
  await fs.writeFile(path.join(src, 'healthy.txt'), 'I am fine');
  cli.ok(['snapshot', 'create', '--path', src]);
  assert.equal(cli.run(['repo', 'check', '--read-data']).code, 0);

  // Damage the first pack (it holds victim.bin's first chunk).
  const packs = (await listFiles(path.join(repoDir, 'data'))).map((p) => path.join(repoDir, 'data', p));
  const sizes = await Promise.all(packs.map(async (p) => (await fs.stat(p)).size));
  const victimPack = packs[sizes.indexOf(Math.max(...sizes))]!;
  const fh = await fs.open(victimPack, 'r+');
  const b = Buffer.alloc(1);
  await fh.read(b, 0, 1, 1000);
  b[0]! ^= 0x40;
  await fh.write(b, 0, 1, 1000);
  await fh.close();

  assert.equal(cli.run(['repo', 'check']).code, 0, 'a structural check does not read data');
  const r = cli.run(['repo', 'check', '--read-data']);
  assert.equal(r.code, 1);
  assert.match(r.stdout, new RegExp(`pack ${path.basename(victimPack)} is damaged`));
  assert.match(r.stdout, new RegExp(`needed by snapshot ${first.id.slice(0, 8)}: ${path.join(src, 'victim.bin')}`));
  const json = JSON.parse(cli.run(['repo', 'check', '--read-data', '--json']).stdout) as { ok: boolean; errors: { pack: string; dependents: { path: string }[] }[] };
  assert.equal(json.ok, false);
  assert.equal(json.errors[0]!.pack, path.basename(victimPack));
  assert.ok(json.errors[0]!.dependents.length >= 2, 'both snapshots depend on the file');

  const out = path.join(root, 'out');
  const res = cli.run(['snapshot', 'restore', 'latest', '--target', out]);
  assert.equal(res.code, 1);
  assert.match(res.stderr, /victim\.bin.*damaged/);
  assert.equal(await fs.readFile(path.join(out, src, 'healthy.txt'), 'utf8'), 'I am fine');
});

test('SIGKILL mid-backup: check passes, the next backup reuses stored data, prune removes the leftovers', async () => {
  const root = tmp();
  const src = path.join(root, 'src');
  for (let i = 0; i < 6; i++) await writeRandom(path.join(src, `f${i}.bin`), 40 << 20, 100 + i);
  const repoDir = path.join(root, 'repo');
  const cli = new Cli(repoDir);
  cli.init(['--pack-size', '1']);
  const child = cli.spawn(['snapshot', 'create', '--path', src], { STRONGBOX_WORKERS: '1' });
  const done = waitExit(child);
  // Wait until at least one index file is durable, then kill without warning.
  await waitForFiles(path.join(repoDir, 'index'), (f) => f.length > 0);
  child.kill('SIGKILL');
  const exit = await done;
  assert.equal(exit.signal, 'SIGKILL', 'the backup finished before it could be killed; make the data larger');
  assert.deepEqual(await listFiles(path.join(repoDir, 'snapshots')), [], 'no snapshot may be visible');
  const lockFiles = await listFiles(path.join(repoDir, 'locks'));
  assert.equal(lockFiles.length, 1, 'the dead process leaves its lock');
  // Temporary files anywhere in the repository: a kill during an index write leaves one in index/.
  const temps = () => (readdirSync(repoDir, { recursive: true }) as string[]).filter((n) => path.basename(n).startsWith('.tmp-'));
  const killedLeft = temps().length;

  const c = cli.run(['repo', 'check', '--read-data']);
  assert.equal(c.code, 0, c.stdout + c.stderr);
  const next = cli.json<{ summary: { bytes: number; newBytes: number } }>(['snapshot', 'create', '--path', src]);
  assert.ok(next.summary.newBytes < next.summary.bytes, `nothing was reused (${next.summary.newBytes} of ${next.summary.bytes})`);
  // The killed run's open and committing packs (with 1 MiB packs, about one per blob in flight)
  // stay temporary files, never listed or used, until prune; the next backup leaves them alone.
  const left = temps().length;
  assert.equal(left, killedLeft, `${left} temporary files, ${killedLeft} after the kill`);
  const pruned = cli.json<{ unindexed: string[]; temporaries: number }>(['repo', 'prune']);
  assert.ok(Array.isArray(pruned.unindexed));
  assert.equal(pruned.temporaries, left);
  assert.deepEqual(temps(), []);
  assert.equal(cli.run(['repo', 'check', '--read-data']).code, 0);
  assert.match(cli.ok(['repo', 'check']), /no errors were found/);
  assert.doesNotMatch(cli.ok(['repo', 'check']), /not in any index/);
  // The stale lock of the killed process is recognised and removed.
  assert.match(cli.ok(['repo', 'unlock']), /removed 1 lock/);
  const out = path.join(root, 'out');
  cli.ok(['snapshot', 'restore', 'latest', '--target', out]);
  assert.deepEqual(await describeTree(path.join(out, src)), await describeTree(src));
});

test('Ctrl-C (SIGINT) mid-backup: exit 130, no snapshot, repository consistent', async () => {
  const root = tmp();
  const src = path.join(root, 'src');
  for (let i = 0; i < 4; i++) await writeRandom(path.join(src, `f${i}.bin`), 50 << 20, 200 + i);
  const repoDir = path.join(root, 'repo');
  const cli = new Cli(repoDir);
  cli.init(['--pack-size', '1']);
  const child = cli.spawn(['snapshot', 'create', '--path', src], { STRONGBOX_WORKERS: '1' });
  const done = waitExit(child);
  await waitForFiles(path.join(repoDir, 'data'), (f) => f.length > 0);
  child.kill('SIGINT');
  const exit = await done;
  assert.equal(exit.code, 130, exit.stderr);
  assert.deepEqual(await listFiles(path.join(repoDir, 'snapshots')), []);
  assert.deepEqual(await listFiles(path.join(repoDir, 'locks')), [], 'the lock is released on cancel');
  assert.equal(cli.run(['repo', 'check', '--read-data']).code, 0);
  const next = cli.json<{ summary: { bytes: number; newBytes: number } }>(['snapshot', 'create', '--path', src]);
  assert.ok(next.summary.newBytes < next.summary.bytes, 'data written before the cancel is reused');
});

test('disk full at the destination: a clear error, no snapshot, the repository still checks clean', async (t) => {
  if (!isRoot) {
    if (process.env.CI) assert.fail('this test needs root (to mount a small tmpfs) and CI runs as root');
    t.skip('needs root to mount a small tmpfs');
    return;
  }
  const root = tmp();
  const mnt = path.join(root, 'small');
  await fs.mkdir(mnt);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=6m', 'tmpfs', mnt]);
  try {
    const src = path.join(root, 'src');
    await fs.writeFile(path.join(root, 'small.txt'), 'small');
    await writeRandom(path.join(src, 'big.bin'), 20 << 20, 5);
    const repoDir = path.join(mnt, 'repo');
    const cli = new Cli(repoDir);
    cli.init(['--pack-size', '1']);
    const ok = cli.json<{ id: string }>(['snapshot', 'create', '--path', path.join(root, 'small.txt')]);
    const r = cli.run(['snapshot', 'create', '--path', src]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /destination is full \(ENOSPC\)/);
    const snaps = cli.json<{ id: string }[]>(['snapshot', 'list']);
    assert.deepEqual(snaps.map((s) => s.id), [ok.id], 'no half-visible snapshot');
    assert.equal(cli.run(['repo', 'check', '--read-data']).code, 0);
    // Space can be reclaimed from the failed run, and the good snapshot restores.
    cli.ok(['repo', 'prune']);
    const out = path.join(root, 'out');
    cli.ok(['snapshot', 'restore', ok.id, '--target', out]);
    assert.equal(await fs.readFile(path.join(out, root, 'small.txt'), 'utf8'), 'small');
  } finally {
    execFileSync('umount', ['-l', mnt]);
  }
});

test('disk full at the restore target: refused before a byte is written, with the sizes and the way out', async (t) => {
  if (!isRoot) {
    if (process.env.CI) assert.fail('this test needs root (to mount a small tmpfs) and CI runs as root');
    t.skip('needs root to mount a small tmpfs');
    return;
  }
  const root = tmp();
  const src = path.join(root, 'src');
  await writeRandom(path.join(src, 'big.bin'), 12 << 20, 6);
  const cli = new Cli(path.join(root, 'repo'));
  cli.init();
  cli.ok(['snapshot', 'create', '--path', src]);
  const mnt = path.join(root, 'small');
  await fs.mkdir(mnt);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', mnt]);
  try {
    const r = cli.run(['snapshot', 'restore', 'latest', '--target', path.join(mnt, 'out')]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /The restore needs about .* which has .* free.*--no-space-check/);
    assert.deepEqual(await fs.readdir(mnt), [], 'nothing was written');
    // Told to go ahead anyway, it fails on the full disk and says so (the files that did not fit are named).
    const forced = cli.run(['snapshot', 'restore', 'latest', '--target', path.join(mnt, 'out'), '--no-space-check']);
    assert.notEqual(forced.code, 0);
    assert.match(forced.stderr, /ENOSPC|no space/i);
  } finally {
    execFileSync('umount', ['-l', mnt]);
  }
});

test('engine: a storage failure mid-backup fails the backup and writes no snapshot', async () => {
  const root = tmp();
  const src = path.join(root, 'src');
  await writeRandom(path.join(src, 'a.bin'), 8 << 20, 9);
  // Packs are written as their blobs arrive: the third pack's writes fail.
  class Failing extends LocalBackend {
    packs = 0;
    override async createWriter(kind: Parameters<LocalBackend['createWriter']>[0]) {
      const w = await super.createWriter(kind);
      if (kind !== 'data' || ++this.packs <= 2) return w;
      return { ...w, write: async () => Promise.reject(Object.assign(new Error('boom'), { code: 'EIO' })) };
    }
  }
  const backend = new Failing(path.join(root, 'repo'));
  const repo = await Repository.init(backend, 'pw', { packSize: 1 << 20, scrypt: { N: 1024, r: 8, p: 1 } });
  const pool = new CodecPool(repo.master, repo.config, 1);
  try {
    await assert.rejects(backup({ repo, pipeline: pool, paths: [src] }), /boom/);
    assert.deepEqual(await repo.listNames('snapshots'), []);
    // The failed pack's temporary file is gone with it.
    assert.deepEqual(readdirSync(path.join(root, 'repo', 'data')).filter((n) => n.startsWith('.tmp-')), []);
    const fresh = await Repository.open(new LocalBackend(path.join(root, 'repo')), 'pw');
    const res = await check({ repo: fresh, decoder: pool, readData: true });
    assert.deepEqual(res.errors, []);
  } finally {
    await pool.close();
  }
});
