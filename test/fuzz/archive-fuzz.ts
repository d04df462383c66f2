/**
 * A seeded mutation fuzzer for snapshot archives. From one valid archive it
 * makes hostile variants — bits flipped, truncated, spliced, zeroed (the frame
 * then fails its checksum), and "re-framed": one object inside mutated, dropped
 * or duplicated and the archive written again with a valid frame and checksum,
 * so the mutation reaches the repository engine. Each variant is uploaded into
 * a repository; when one is accepted, its snapshot is restored and compared
 * byte for byte with the original. A failure is: a variant accepted with changed
 * content, a crash (any error that is not one of Strongbox's typed errors), a
 * hang (over the per-case bound), or a write outside the restore's target.
 *
 *   npm run fuzz -- [--cases N] [--seed S] [--repository]
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { AppError } from '../../src/kernel/index.js';
import { CodecPool, Repository } from '../../src/repo/index.js';
import { ArchiveReader, ArchiveWriter } from '../../src/storage/archive/archive.js';
import { fileKinds, type FileKind } from '../../src/storage/index.js';
import { LocalBackend } from '../../src/storage/local/local-backend.js';
import { uploadArchive } from '../../src/app/archive.js';
import { restore } from '../../src/engine/index.js';
import { listSnapshots } from '../../src/tree/index.js';
import { craft, manifest, node } from '../e2e/testing/forge.js';

const PASSWORD = 'fuzz-archive-pass';

/** xorshift32: the same seed gives the same cases, on every machine. */
export function rng(seed: number): () => number {
  // Spread nearby seeds apart, then warm up: xorshift's first outputs of close seeds are close.
  let x = Math.imul(seed >>> 0, 0x9e3779b1) >>> 0 || 0x9e3779b9;
  const next = () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x100000000;
  };
  for (let i = 0; i < 16; i++) next();
  return next;
}

export interface FuzzResult {
  cases: number;
  accepted: number;
  refused: number;
  failures: { case: number; mutation: string; problem: string }[];
  byMutation: Record<string, number>;
}

interface Record_ {
  kind: FileKind;
  name: string;
  data: Buffer;
}

/** The original content, by path: what an accepted variant must restore to. */
const EXPECTED: Record<string, string> = {
  'a.txt': 'alpha '.repeat(50),
  'dir/b.bin': 'b'.repeat(3000),
  'dir/c.txt': 'gamma\n',
  'big.bin': Array.from({ length: 400 }, (_, i) => `line ${i} of a file in several chunks\n`).join(''),
};

async function seedArchive(file: string): Promise<void> {
  // A cheap KDF for the fuzzer's own archive: thousands of cases each open it.
  await craft(file, PASSWORD, async (f) => {
    const bigText = EXPECTED['big.bin']!;
    const bigChunks = [bigText.slice(0, 5000), bigText.slice(5000, 11000), bigText.slice(11000)];
    const dir = await f.tree([node('b.bin', 'file', { size: 3000, content: [await f.data(EXPECTED['dir/b.bin']!)] }), node('c.txt', 'file', { size: 6, content: [await f.data(EXPECTED['dir/c.txt']!)] })]);
    const root = await f.tree([
      node('a.txt', 'file', { size: EXPECTED['a.txt']!.length, content: [await f.data(EXPECTED['a.txt']!)] }),
      node('big.bin', 'file', { size: bigText.length, content: await Promise.all(bigChunks.map((c) => f.data(c))) }),
      node('dir', 'dir', { subtree: dir }),
      node('link', 'symlink', { mode: 0o777, target: 'a.txt' }),
    ]);
    const total = Object.values(EXPECTED).reduce((n, v) => n + v.length, 0);
    return manifest(root, { summary: { files: 5, dirs: 1, bytes: total, newFiles: 5, changedFiles: 0, unchangedFiles: 0, newBytes: total, storedBytes: total, durationMs: 1 } });
  }, { scrypt: { N: 1024, r: 8, p: 1 } });
}

async function readRecords(file: string): Promise<Record_[]> {
  const r = await ArchiveReader.open(file);
  try {
    const out: Record_[] = [];
    for (const kind of fileKinds) for await (const o of r.list(kind)) out.push({ kind, name: o.name, data: await r.get({ kind, name: o.name }) });
    return out;
  } finally {
    await r.close();
  }
}

async function writeRecords(file: string, records: Record_[]): Promise<void> {
  const w = new ArchiveWriter(file);
  for (const rec of records) await w.put({ kind: rec.kind, name: rec.name }, rec.data);
  await w.finish();
}

function mutateBytes(b: Buffer, rand: () => number): { data: Buffer; how: string } {
  const pick = Math.floor(rand() * 5);
  const at = Math.floor(rand() * Math.max(1, b.length));
  switch (pick) {
    case 0: {
      const out = Buffer.from(b);
      const n = 1 + Math.floor(rand() * 4);
      for (let i = 0; i < n; i++) {
        const p = Math.floor(rand() * out.length);
        if (out.length) out[p]! ^= 1 << Math.floor(rand() * 8);
      }
      return { data: out, how: 'flip' };
    }
    case 1:
      return { data: b.subarray(0, at), how: 'truncate' };
    case 2: {
      const from = Math.floor(rand() * Math.max(1, b.length));
      const len = Math.floor(rand() * 64);
      return { data: Buffer.concat([b.subarray(0, at), b.subarray(from, from + len), b.subarray(at)]), how: 'splice' };
    }
    case 3: {
      const out = Buffer.from(b);
      out.fill(0, at, Math.min(out.length, at + 1 + Math.floor(rand() * 32)));
      return { data: out, how: 'zero' };
    }
    default:
      return { data: Buffer.concat([b, Buffer.from(Array.from({ length: 1 + Math.floor(rand() * 64) }, () => Math.floor(rand() * 256)))]), how: 'extend' };
  }
}

async function describeDir(dir: string, base = ''): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const e of readdirSync(path.join(dir, base), { withFileTypes: true })) {
    const rel = base ? `${base}/${e.name}` : e.name;
    if (e.isDirectory()) Object.assign(out, await describeDir(dir, rel));
    else if (e.isFile()) out[rel] = readFileSync(path.join(dir, rel), 'latin1');
    else if (e.isSymbolicLink()) out[rel] = '(symlink)';
    else out[rel] = '(special)';
  }
  return out;
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`HANG: no answer in ${ms} ms`)), ms)))]).finally(() => clearTimeout(timer));
}

export async function fuzzArchives(o: { cases: number; seed: number; caseTimeoutMs?: number; log?: (l: string) => void }): Promise<FuzzResult> {
  const work = mkdtempSync(path.join(tmpdir(), 'sb-fuzz-'));
  const result: FuzzResult = { cases: 0, accepted: 0, refused: 0, failures: [], byMutation: {} };
  const seedFile = path.join(work, 'seed.sbx');
  await seedArchive(seedFile);
  const seedBytes = readFileSync(seedFile);
  const records = await readRecords(seedFile);
  const targetDir = path.join(work, 'target');
  const target = await Repository.init(new LocalBackend(targetDir), 'target-pass', { scrypt: { N: 1024, r: 8, p: 1 } });
  const pool = new CodecPool(target.master, target.config, 1);
  const jail = path.join(work, 'jail');
  mkdirSync(jail);
  try {
    for (let i = 0; i < o.cases; i++) {
      const rand = rng(o.seed * 1_000_003 + i);
      const file = path.join(work, 'case.sbx');
      let mutation: string;
      if (rand() < 0.3) {
        const m = mutateBytes(seedBytes, rand);
        writeFileSync(file, m.data);
        mutation = `raw-${m.how}`;
      } else {
        const list = records.map((r) => ({ ...r }));
        const k = Math.floor(rand() * list.length);
        const op = rand();
        if (op < 0.15) {
          // Neutral: the same objects in another order must be accepted and restore identically.
          for (let j = list.length - 1; j > 0; j--) {
            const x = Math.floor(rand() * (j + 1));
            [list[j], list[x]] = [list[x]!, list[j]!];
          }
          mutation = 'reframe-reorder';
        } else if (op < 0.25) {
          list.splice(k, 1);
          mutation = `reframe-drop-${records[k]!.kind}`;
        } else if (op < 0.3) {
          list.push({ ...list[k]!, data: mutateBytes(list[k]!.data, rand).data, name: list[k]!.name });
          mutation = `reframe-duplicate-${records[k]!.kind}`;
        } else {
          const m = mutateBytes(list[k]!.data, rand);
          list[k]!.data = m.data;
          mutation = `reframe-${m.how}-${records[k]!.kind}`;
        }
        try {
          await writeRecords(file, list);
        } catch (err) {
          // The writer itself refused the variant (for example a duplicate name): not a case.
          if (err instanceof AppError) continue;
          throw err;
        }
      }
      result.cases++;
      result.byMutation[mutation] = (result.byMutation[mutation] ?? 0) + 1;
      const fail = (problem: string) => {
        result.failures.push({ case: i, mutation, problem });
        o.log?.(`case ${i} (${mutation}): ${problem}`);
      };
      try {
        const res = await withTimeout(uploadArchive({ file, password: PASSWORD, target, targetPool: pool }), o.caseTimeoutMs ?? 30_000);
        result.accepted++;
        const id = res.copied[0]?.target ?? res.skipped[0]?.target;
        const ref = (await listSnapshots(target)).find((s) => s.id === id);
        if (!ref) {
          fail('accepted, but no snapshot is listed');
          continue;
        }
        const out = path.join(jail, `out-${i}`);
        const r = await withTimeout(restore({ repo: target, writer: pool, snapshot: ref, target: out }), o.caseTimeoutMs ?? 30_000);
        const got = await describeDir(out);
        const want = { ...EXPECTED, link: '(symlink)' };
        if (r.errors.length) fail(`accepted, restore reported ${r.errors.length} error(s): ${r.errors[0]!.message}`);
        else if (JSON.stringify(Object.entries(got).sort()) !== JSON.stringify(Object.entries(want).sort())) fail('ACCEPTED WITH CHANGED CONTENT');
        rmSync(out, { recursive: true, force: true });
      } catch (err) {
        if (err instanceof AppError) result.refused++;
        else fail(`CRASH or HANG: ${(err as Error)?.stack?.split('\n').slice(0, 3).join(' | ') ?? String(err)}`);
      }
      const stray = readdirSync(jail);
      if (stray.length) {
        fail(`a write outside the restore's target: ${stray.join(', ')}`);
        for (const s of stray) rmSync(path.join(jail, s), { recursive: true, force: true });
      }
    }
  } finally {
    await pool.close();
    rmSync(work, { recursive: true, force: true });
  }
  return result;
}

/**
 * The same mutations applied to a repository on disk (no upload verification in
 * between): each variant is opened and every snapshot restored. A damaged file
 * must be reported as damaged; a restore that reports nothing must be identical.
 */
export async function fuzzRepositories(o: { cases: number; seed: number; caseTimeoutMs?: number; log?: (l: string) => void }): Promise<FuzzResult> {
  const work = mkdtempSync(path.join(tmpdir(), 'sb-fuzz-repo-'));
  const result: FuzzResult = { cases: 0, accepted: 0, refused: 0, failures: [], byMutation: {} };
  const seedFile = path.join(work, 'seed.sbx');
  await seedArchive(seedFile);
  const records = await readRecords(seedFile);
  const jail = path.join(work, 'jail');
  mkdirSync(jail);
  try {
    for (let i = 0; i < o.cases; i++) {
      const rand = rng(o.seed * 1_000_033 + i);
      const dir = path.join(work, 'repo');
      rmSync(dir, { recursive: true, force: true });
      const list = records.map((r) => ({ ...r }));
      const k = Math.floor(rand() * list.length);
      let mutation: string;
      if (rand() < 0.1) {
        list.splice(k, 1);
        mutation = `drop-${records[k]!.kind}`;
      } else {
        const m = mutateBytes(list[k]!.data, rand);
        list[k]!.data = m.data;
        mutation = `${m.how}-${records[k]!.kind}`;
      }
      const backend = new LocalBackend(dir);
      await backend.create();
      for (const rec of list) await backend.put({ kind: rec.kind, name: rec.name }, rec.data);
      result.cases++;
      result.byMutation[mutation] = (result.byMutation[mutation] ?? 0) + 1;
      const fail = (problem: string) => {
        result.failures.push({ case: i, mutation, problem });
        o.log?.(`case ${i} (${mutation}): ${problem}`);
      };
      let pool: CodecPool | undefined;
      try {
        await withTimeout(
          (async () => {
            const repo = await Repository.open(new LocalBackend(dir), PASSWORD);
            pool = new CodecPool(repo.master, repo.config, 1);
            await repo.loadIndex(() => undefined);
            const snaps = await listSnapshots(repo);
            if (snaps.length === 0) throw new AppError('NOT_FOUND', 'no snapshot');
            for (const ref of snaps) {
              const out = path.join(jail, `out-${i}`);
              const r = await restore({ repo, writer: pool, snapshot: ref, target: out, spaceCheck: false });
              if (r.errors.length === 0) {
                result.accepted++;
                const got = await describeDir(out);
                if (JSON.stringify(Object.entries(got).sort()) !== JSON.stringify(Object.entries({ ...EXPECTED, link: '(symlink)' }).sort())) fail('RESTORED CHANGED CONTENT WITHOUT REPORTING IT');
              } else result.refused++;
              rmSync(out, { recursive: true, force: true });
            }
          })(),
          o.caseTimeoutMs ?? 30_000,
        );
      } catch (err) {
        if (err instanceof AppError) {
          result.refused++;
          if (process.env.FUZZ_DEBUG) o.log?.(`case ${i} (${mutation}): refused: ${err.message}`);
        } else fail(`CRASH or HANG: ${(err as Error)?.stack?.split('\n').slice(0, 3).join(' | ') ?? String(err)}`);
      } finally {
        await pool?.close();
        rmSync(path.join(jail, `out-${i}`), { recursive: true, force: true });
      }
      const stray = readdirSync(jail);
      if (stray.length) {
        fail(`a write outside the restore's target: ${stray.join(', ')}`);
        for (const s2 of stray) rmSync(path.join(jail, s2), { recursive: true, force: true });
      }
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return result;
}

async function main(): Promise<void> {
  const arg = (n: string, d: number) => {
    const i = process.argv.indexOf(n);
    return i > 0 ? Number(process.argv[i + 1]) : d;
  };
  const cases = arg('--cases', 1000);
  const seed = arg('--seed', 1);
  const repoMode = process.argv.includes('--repository');
  const t0 = Date.now();
  const r = repoMode ? await fuzzRepositories({ cases, seed, log: (l) => console.error(l) }) : await fuzzArchives({ cases, seed, log: (l) => console.error(l) });
  console.log(JSON.stringify({ seed, ...r, seconds: Math.round((Date.now() - t0) / 1000) }, null, 1));
  console.log(
    repoMode
      ? `repository fuzzer: ${r.cases} cases (seed ${seed}): ${r.accepted} restores reported nothing and were identical, ${r.refused} refused or reported the damage`
      : `archive fuzzer: ${r.cases} cases (seed ${seed}): ${r.accepted} accepted and restored identical, ${r.refused} refused with a typed error`,
  );
  const failed = new Set(r.failures.map((f) => f.case)).size;
  console.log(`${r.cases - failed} passed, ${failed} failed`);
  process.exit(r.failures.length ? 1 : 0);
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) await main();
