/**
 * The crash-point harness: backups, forget + prune and copies are killed with
 * SIGKILL at random moments (seeded), and after every kill the repositories
 * must pass `repo check --read-data` (every snapshot's trees load and every
 * blob they name is present and intact) and every snapshot listed for the
 * first time must restore without a damaged file. A kill may leave unreferenced
 * packs (prune reclaims them) and stale locks (ignored once their process is
 * gone) — never a snapshot that does not restore.
 *
 *   npm run torture -- [--rounds N] [--seed S]
 */
import { spawn } from 'node:child_process';
import { mkdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { BIN, Cli, tmp, waitExit, writeRandom } from '../e2e/testing/cli.js';
import { rng } from '../fuzz/archive-fuzz.js';

export interface TortureResult {
  rounds: number;
  killed: number;
  finished: number;
  restored: number;
  failures: { round: number; op: string; problem: string }[];
}

type Op = 'backup' | 'forget' | 'prune' | 'copy';

export async function torture(o: { rounds: number; seed: number; log?: (l: string) => void }): Promise<TortureResult> {
  const root = tmp('sb-torture-');
  const src = path.join(root, 'src');
  const rand = rng(o.seed);
  for (let i = 0; i < 60; i++) await writeRandom(path.join(src, `d${i % 6}`, `f${i}.bin`), 1024 + Math.floor(rand() * 256 * 1024), o.seed * 1000 + i);
  const a = new Cli(path.join(root, 'repo-a'), 'torture-a');
  const b = new Cli(path.join(root, 'repo-b'), 'torture-b');
  a.init(['--pack-size', '1']);
  b.init(['--pack-size', '1']);
  const toB = { STRONGBOX_TO_PASSWORD: 'torture-b' };
  const argv: Record<Op, string[]> = {
    backup: ['snapshot', 'create', '--path', src],
    forget: ['snapshot', 'forget', '--keep-last', '3'],
    prune: ['repo', 'prune'],
    copy: ['snapshot', 'copy', '--all', '--to-repo', b.repo],
  };
  // How long each operation takes uninterrupted: kills land anywhere in it.
  // The last run of each counts: the rounds' backups are incremental, like the second one here
  // (the first, of everything, took so much longer that most later kills came after the end).
  // Each is timed twice and the shorter taken: one slow run (a busy machine) made the kills of a
  // CI run land after the end in 5 of 8 rounds.
  const spans: Record<Op, number> = { backup: Infinity, forget: Infinity, prune: Infinity, copy: Infinity };
  a.ok(argv.backup);
  for (const op of ['backup', 'backup', 'copy', 'copy', 'forget', 'forget', 'prune', 'prune'] as Op[]) {
    const t0 = Date.now();
    a.ok(argv[op], op === 'copy' ? toB : {});
    spans[op] = Math.min(spans[op], Date.now() - t0);
  }
  const result: TortureResult = { rounds: 0, killed: 0, finished: 0, restored: 0, failures: [] };
  const verified = new Set<string>();
  for (let round = 0; round < o.rounds; round++) {
    const x = rand();
    const op: Op = x < 0.45 ? 'backup' : x < 0.6 ? 'forget' : x < 0.8 ? 'prune' : 'copy';
    if (op === 'backup') {
      // Realistic change: a few files rewritten, one added, one removed.
      for (let k = 0; k < 3; k++) await writeRandom(path.join(src, `d${k}`, `f${Math.floor(rand() * 60)}.bin`), 4096 + Math.floor(rand() * 128 * 1024), round * 31 + k);
      writeFileSync(path.join(src, `new-${round}.txt`), `round ${round}\n`.repeat(100));
      try {
        unlinkSync(path.join(src, `new-${round - 3}.txt`));
      } catch {
        /* not there */
      }
    }
    const delay = Math.floor(rand() * spans[op]);
    const child = spawn(process.execPath, [BIN, ...argv[op]], { env: a.env(op === 'copy' ? toB : {}), stdio: ['ignore', 'pipe', 'pipe'] });
    const done = waitExit(child);
    const timer = setTimeout(() => child.kill('SIGKILL'), delay);
    const r = await done;
    clearTimeout(timer);
    result.rounds++;
    if (r.signal === 'SIGKILL') result.killed++;
    else if (r.code === 0) result.finished++;
    const fail = (problem: string) => {
      result.failures.push({ round, op, problem });
      o.log?.(`round ${round} (${op}, killed after ${delay} ms): ${problem}`);
    };
    if (r.signal !== 'SIGKILL' && r.code !== 0) fail(`ended ${r.code} without being killed: ${r.stderr.trim().split('\n').slice(-2).join(' | ')}`);
    for (const [cli, name] of [[a, 'A'], [b, 'B']] as const) {
      const check = cli.run(['repo', 'check', '--read-data']);
      if (check.code !== 0) fail(`repository ${name}: check --read-data failed: ${(check.stdout + check.stderr).trim().split('\n').slice(-3).join(' | ')}`);
      const listed = cli.run(['snapshot', 'list', '--json']);
      if (listed.code !== 0) {
        fail(`repository ${name}: snapshot list failed: ${listed.stderr.trim()}`);
        continue;
      }
      const ids = (JSON.parse(listed.stdout) as { id: string }[]).map((s) => s.id);
      for (const id of ids) {
        if (verified.has(id)) continue;
        const out = path.join(root, 'restore');
        rmSync(out, { recursive: true, force: true });
        mkdirSync(out);
        const res = cli.run(['snapshot', 'restore', id, '--target', out]);
        if (res.code !== 0) fail(`repository ${name}: snapshot ${id.slice(0, 8)} does not restore: ${res.stderr.trim().split('\n').slice(-2).join(' | ')}`);
        else {
          verified.add(id);
          result.restored++;
        }
      }
    }
  }
  return result;
}

async function main(): Promise<void> {
  const arg = (n: string, d: number) => {
    const i = process.argv.indexOf(n);
    return i > 0 ? Number(process.argv[i + 1]) : d;
  };
  const rounds = arg('--rounds', 100);
  const seed = arg('--seed', 1);
  const t0 = Date.now();
  const r = await torture({ rounds, seed, log: (l) => console.error(l) });
  console.log(JSON.stringify({ seed, ...r, seconds: Math.round((Date.now() - t0) / 1000) }, null, 1));
  console.log(`crash-point harness: ${r.rounds} rounds (seed ${seed}): ${r.killed} killed mid-run, ${r.finished} finished first; ${r.restored} snapshot(s) restored after the kills`);
  console.log(`${r.rounds - new Set(r.failures.map((f) => f.round)).size} passed, ${new Set(r.failures.map((f) => f.round)).size} failed`);
  process.exit(r.failures.length ? 1 : 0);
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) await main();
