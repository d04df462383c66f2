import { execFile, spawn, spawnSync } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { generate, generateBig, generateMany, mutate, mutateBig, mutateMany } from './dataset.js';
import { reportPg, runPgBench } from './pg.js';
import { reportApi, runApiBench } from './api.js';
import { bucketUsage, startSeaweed } from '../test/e2e/testing/seaweedfs.js';

/**
 * The benchmark harness (`npm run bench`): one deterministic dataset, every tool
 * on it in the same run, with wall time and peak RSS (GNU time's %M, which
 * counts worker threads of the same process). Caches are warm for every tool
 * alike. Results go to stdout and bench/results/latest.json.
 *
 * Options: --scenario files|pg|s3|api|kubernetes|all (default files; kubernetes: 2,000 objects and --size GiB of volumes on a real API server; s3: the files scenario against an S3 API server;
 * api: the server under load from a second process), --size GiB (default 1.5), --pg-size GiB (default 1),
 * --clients N and --think-ms MS (api; default 200 and 1000), --tools strongbox,restic,restic-latest,kopia,borg, --keep,
 * --log-requests FILE (s3: each request's method and path, ids masked, appended to FILE), --dataset files|many|big
 * (files: the application-shaped dataset of --size GiB; many: --files N small files, default 1,000,000;
 * big: one file of --size GiB, default 20, each tool in turn so that only one repository is on the disk).
 * restic-latest and Kopia are built from the Go module proxy by scripts/bench-peers.sh (cached
 * outside the work tree); a peer that is missing or cannot be built is reported, not dropped.
 */
interface Measure {
  seconds: number;
  /** CPU time of the process and its threads and children: user + system (GNU time's %U + %S). */
  cpuSeconds: number;
  peakRssMiB: number;
}
interface ToolResult {
  tool: string;
  version: string;
  first?: Measure;
  second?: Measure;
  restore?: Measure;
  repoBytes?: number;
  /** S3 scenario: requests sent per phase, and objects stored per GiB of data. */
  requests?: { first: number; second: number; restore: number };
  objectsPerGiB?: number;
  error?: string;
}

/** The S3 scenario: both tools talk to one S3 API server on loopback, through a counting proxy. */
interface S3Setup {
  /** What the tools talk to: the counting proxy in front of the server. */
  endpoint: string;
  server: string;
  env: Record<string, string>;
  counted: () => number;
  /** Bytes and objects under a tool's prefix, listed on the server itself. */
  usage: (repo: string) => Promise<{ bytes: number; objects: number }>;
  close: () => Promise<void>;
}
const execFileAsync = promisify(execFile);
let s3: S3Setup | undefined;

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bench');
const args = process.argv.slice(2);
const opt = (name: string, def: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : def;
};
const sizeGiB = Number(opt('size', '1.5'));
const tools = opt('tools', 'strongbox,restic,restic-latest,kopia,borg').split(',');
const work = path.resolve(opt('dir', path.join(root, '.data')));
const strongbox = path.resolve(root, '../bin/strongbox.js');
const PASSWORD = 'bench-password';

function have(cmd: string, arg = '--version'): string | undefined {
  const r = spawnSync(cmd, [arg], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return undefined;
  return (r.stdout || r.stderr).split('\n')[0]!.trim();
}

function timed(cmd: string, argv: string[], env: NodeJS.ProcessEnv, cwd?: string): Promise<Measure> {
  return new Promise((resolve, reject) => {
    const p = spawn('/usr/bin/time', ['-f', 'BENCH %e %M %U %S', cmd, ...argv], { env: { ...process.env, ...env }, cwd, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('close', (code) => {
      const m = /BENCH ([\d.]+) (\d+) ([\d.]+) ([\d.]+)/.exec(err);
      if (code !== 0 || !m) reject(new Error(`${cmd} ${argv.join(' ')} failed (${code}): ${err.slice(-2000)}`));
      else resolve({ seconds: Number(m[1]), peakRssMiB: Number(m[2]) / 1024, cpuSeconds: Number(m[3]) + Number(m[4]) });
    });
  });
}

/**
 * Flushes dirty pages before a timed phase: otherwise a tool pays for the writeback of
 * what came before it (the freshly generated dataset, the previous tool's repository or
 * restore) — seen as restic 0.14's first snapshot taking 12.1 s in one run and 7.0 in the next.
 */
function settle(): void {
  spawnSync('sync');
}

async function du(dir: string): Promise<number> {
  const r = spawnSync('du', ['-sb', dir], { encoding: 'utf8' });
  return Number(r.stdout.split('\t')[0]);
}

interface Tool {
  name: string;
  /** The version, or why the tool is not there ("not installed: …"). */
  version: string | undefined;
  missing?: string;
  init(repo: string): Promise<void>;
  backup(repo: string, data: string): Promise<Measure>;
  restore(repo: string, target: string): Promise<Measure>;
  /** Where the restore put the dataset (restic and Borg recreate its absolute path; Kopia restores the snapshot's root). */
  restored?(target: string, data: string): string;
}

/** restic-latest and Kopia (and SeaweedFS), built by scripts/bench-peers.sh: name → binary, or the reason there is none. */
function goPeers(): Map<string, { bin?: string; why?: string }> {
  const out = new Map<string, { bin?: string; why?: string }>();
  if (!tools.some((t) => t === 'restic-latest' || t === 'kopia') && opt('scenario', 'files') !== 's3') return out;
  const r = spawnSync('bash', [path.resolve(root, '../scripts/bench-peers.sh')], { encoding: 'utf8' });
  for (const line of r.stdout.split('\n').filter(Boolean)) {
    const [name, bin, ...why] = line.split(' ');
    out.set(name!, bin === '-' ? { why: why.join(' ') } : { bin: bin! });
  }
  return out;
}
const peers = goPeers();
function goPeer(name: string): { bin?: string; why?: string } {
  return peers.get(name) ?? { why: 'not built (scripts/bench-peers.sh)' };
}

function resticTool(name: string, bin: string | undefined, why?: string): Tool {
  return {
    name,
    version: bin ? have(bin, 'version') : undefined,
    ...(why ? { missing: why } : {}),
    init: async (repo) => void (await timed(bin!, ['init', '-q', '--repo', resticRepo(repo)], { RESTIC_PASSWORD: PASSWORD, ...s3?.env })),
    backup: (repo, data) => timed(bin!, ['backup', '-q', '--repo', resticRepo(repo), data], { RESTIC_PASSWORD: PASSWORD, ...s3?.env }),
    restore: (repo, target) => timed(bin!, ['restore', '-q', '--repo', resticRepo(repo), 'latest', '--target', target], { RESTIC_PASSWORD: PASSWORD, ...s3?.env }),
  };
}

/** Kopia with its defaults (a repository on the file system; its own config file and cache per repository). */
function kopiaTool(bin: string | undefined, why?: string): Tool {
  const env = (repo: string) => ({ KOPIA_PASSWORD: PASSWORD, KOPIA_CONFIG_PATH: `${repo}.config`, KOPIA_CACHE_DIRECTORY: `${repo}.cache`, KOPIA_CHECK_FOR_UPDATES: 'false', KOPIA_LOG_DIR: `${repo}.logs` });
  return {
    name: 'kopia',
    version: bin ? have(bin, '--version') : undefined,
    ...(why ? { missing: why } : {}),
    init: async (repo) => {
      await fs.rm(`${repo}.config`, { force: true });
      await fs.rm(`${repo}.cache`, { recursive: true, force: true });
      const where = s3
        ? ['s3', '--bucket', 'bench', '--prefix', `${path.basename(repo)}/`, '--endpoint', s3.endpoint.replace(/^http:\/\//, ''), '--disable-tls', '--access-key', s3.env.AWS_ACCESS_KEY_ID!, '--secret-access-key', s3.env.AWS_SECRET_ACCESS_KEY!]
        : ['filesystem', '--path', repo];
      await timed(bin!, ['repository', 'create', ...where], env(repo));
    },
    backup: (repo, data) => timed(bin!, ['snapshot', 'create', data], env(repo)),
    restore: async (repo, target) => {
      // Not spawnSync: in the S3 scenario the counting proxy runs on this process's event loop,
      // and a blocked loop leaves Kopia's requests unanswered until the timeout (every run until now).
      const list = await execFileAsync(bin!, ['snapshot', 'list', '--json'], { env: { ...process.env, ...env(repo) }, encoding: 'utf8', timeout: 120000, maxBuffer: 64 << 20 }).catch((err: Error & { stderr?: string }) => {
        throw new Error(`kopia snapshot list failed (${err.message}): ${(err.stderr ?? '').slice(-500)}`);
      });
      const snaps = JSON.parse(list.stdout) as { id: string }[];
      return timed(bin!, ['snapshot', 'restore', snaps[snaps.length - 1]!.id, target], env(repo));
    },
    restored: (target) => target,
  };
}

/** A tool's repository: a local directory, or (S3 scenario) a prefix in the bucket named after the directory. */
function sbRepo(repo: string): string {
  return s3 ? `s3://bench/${path.basename(repo)}?endpoint=${encodeURIComponent(s3.endpoint)}` : repo;
}
function resticRepo(repo: string): string {
  return s3 ? `s3:${s3.endpoint}/bench/${path.basename(repo)}` : repo;
}
async function repoSize(repo: string): Promise<number> {
  return s3 ? (await s3.usage(repo)).bytes : du(repo);
}
async function objectCount(repo: string): Promise<number> {
  return s3 ? (await s3.usage(repo)).objects : 0;
}

const defs: Tool[] = [
  {
    name: 'strongbox',
    version: 'strongbox 0.1.0',
    init: async (repo) => void (await timed(strongbox, ['repo', 'init', '--repo', sbRepo(repo)], { STRONGBOX_PASSWORD: PASSWORD, ...s3?.env })),
    backup: (repo, data) => timed(strongbox, ['snapshot', 'create', '-q', '--repo', sbRepo(repo), '--path', data], { STRONGBOX_PASSWORD: PASSWORD, ...s3?.env }),
    restore: (repo, target) => timed(strongbox, ['snapshot', 'restore', 'latest', '-q', '--repo', sbRepo(repo), '--target', target], { STRONGBOX_PASSWORD: PASSWORD, ...s3?.env }),
  },
  resticTool('restic', have('restic', 'version') ? 'restic' : undefined, 'not installed (apt-get install restic)'),
  resticTool('restic-latest', peers.get('restic')?.bin, peers.get('restic')?.why ?? 'not built (scripts/bench-peers.sh)'),
  kopiaTool(peers.get('kopia')?.bin, peers.get('kopia')?.why ?? 'not built (scripts/bench-peers.sh)'),
  {
    name: 'borg',
    version: have('borg'),
    init: async (repo) => void (await timed('borg', ['init', '-e', 'repokey', repo], { BORG_PASSPHRASE: PASSWORD })),
    backup: (repo, data) => timed('borg', ['create', `${repo}::s${Date.now()}`, data], { BORG_PASSPHRASE: PASSWORD, BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK: 'yes' }),
    restore: async (repo, target) => {
      await fs.mkdir(target, { recursive: true });
      const list = spawnSync('borg', ['list', '--last', '1', '--short', repo], { env: { ...process.env, BORG_PASSPHRASE: PASSWORD }, encoding: 'utf8' });
      return timed('borg', ['extract', `${repo}::${list.stdout.trim()}`], { BORG_PASSPHRASE: PASSWORD }, target);
    },
  },
];

async function main(): Promise<void> {
  const scenario = opt('scenario', 'files');
  if (scenario === 'pg' || scenario === 'all') {
    const pgWork = path.join(work, 'pg');
    await fs.rm(pgWork, { recursive: true, force: true });
    const r = await runPgBench(pgWork, Number(opt('pg-size', '1')), strongbox, (s) => process.stdout.write(s));
    reportPg(r, (s) => process.stdout.write(s));
    await fs.mkdir(path.join(root, 'results'), { recursive: true });
    await fs.writeFile(path.join(root, 'results', 'pg-latest.json'), JSON.stringify({ date: new Date().toISOString(), ...r }, null, 2));
    if (!args.includes('--keep')) await fs.rm(pgWork, { recursive: true, force: true });
    if (scenario === 'pg') return;
  }
  if (scenario === 'api' || scenario === 'all') {
    const apiWork = path.join(work, 'api');
    await fs.rm(apiWork, { recursive: true, force: true });
    const r = await runApiBench(apiWork, Number(opt('size', '1')), Number(opt('clients', '200')), Number(opt('think-ms', '1000')), strongbox, (s) => process.stdout.write(s));
    reportApi(r, (s) => process.stdout.write(s));
    await fs.mkdir(path.join(root, 'results'), { recursive: true });
    await fs.writeFile(path.join(root, 'results', 'api-latest.json'), JSON.stringify({ date: new Date().toISOString(), ...r }, null, 2));
    if (!args.includes('--keep')) await fs.rm(apiWork, { recursive: true, force: true });
    if (scenario === 'api') return;
  }
  if (scenario === 'kubernetes') {
    const { runKubeBench } = await import('./kubernetes.js');
    const kubeWork = path.join(work, 'kubernetes');
    await fs.rm(kubeWork, { recursive: true, force: true });
    const r = await runKubeBench(kubeWork, strongbox, (s) => process.stdout.write(s), Number(opt('size', '1')));
    await fs.mkdir(path.join(root, 'results'), { recursive: true });
    await fs.writeFile(path.join(root, 'results', 'kubernetes-latest.json'), JSON.stringify({ date: new Date().toISOString(), ...r }, null, 2));
    if (!args.includes('--keep')) await fs.rm(kubeWork, { recursive: true, force: true });
    return;
  }
  if (scenario === 's3') {
    // A real S3 server (SeaweedFS, built by scripts/seaweedfs.sh through scripts/bench-peers.sh) behind a counting proxy.
    const { startFaultProxy } = await import('../test/e2e/testing/s3.js');
    const weed = goPeer('seaweedfs');
    if (!weed.bin) throw new Error(`SeaweedFS is not there: ${weed.why ?? 'run scripts/seaweedfs.sh'}`);
    const server = await startSeaweed(weed.bin, path.join(work, 's3'), ['bench']);
    const kind = 'SeaweedFS';
    const requestLog = opt('log-requests', '');
    const proxy = await startFaultProxy(server.port, (_n, req) => {
      if (requestLog) appendFileSync(requestLog, `${req.method} ${(req.url ?? '').replace(/\?.*$/, '').replace(/[0-9a-f]{64}/g, 'ID')}${req.headers.range ? ' (range)' : ''}\n`);
      return { fault: 'pass' };
    });
    s3 = {
      endpoint: proxy.endpoint,
      server: kind,
      env: server.env,
      counted: () => proxy.counts.pass,
      usage: (repo) => bucketUsage(server.endpoint, server.env, 'bench', `${path.basename(repo)}/`),
      close: async () => (await proxy.close(), await server.stop()),
    };
    process.stdout.write(`S3 scenario: ${kind} at ${server.endpoint}, through a counting proxy at ${proxy.endpoint}\n`);
  }
  const data = path.join(work, 'data');
  const dataset = opt('dataset', 'files');
  let ds: { files: number; bytes: number };
  // Each dataset: how it is made, and the day of changes before the second snapshot (big: with what undoes it).
  let change: () => Promise<(() => Promise<void>) | void>;
  if (dataset === 'many') {
    const count = Number(opt('files', '1000000'));
    process.stdout.write(`Generating ${count} small files in ${data}…\n`);
    ds = await generateMany(data, count);
    change = () => mutateMany(data);
  } else if (dataset === 'big') {
    const bigGiB = Number(opt('size', '20'));
    process.stdout.write(`Generating one ${bigGiB} GiB file in ${data}…\n`);
    ds = await generateBig(data, Math.floor(bigGiB * 1024 ** 3));
    change = () => mutateBig(data);
  } else if (dataset === 'files') {
    process.stdout.write(`Generating ${sizeGiB} GiB dataset in ${data}…\n`);
    ds = await generate(data, Math.floor(sizeGiB * 1024 ** 3));
    change = () => mutate(data);
  } else throw new Error(`--dataset ${dataset}: expected files, many or big`);
  process.stdout.write(`  ${ds.files} files, ${(ds.bytes / 1024 ** 3).toFixed(2)} GiB\n`);
  const chosen = defs.filter((t) => tools.includes(t.name) && !(s3 && t.name === 'borg'));
  const results: ToolResult[] = [];
  const first = async (t: Tool): Promise<void> => {
    if (!t.version) {
      results.push({ tool: t.name, version: 'not there', error: t.missing ?? 'not installed' });
      return;
    }
    const repo = path.join(work, `repo-${t.name}`);
    await fs.rm(repo, { recursive: true, force: true });
    const r: ToolResult = { tool: t.name, version: t.version };
    results.push(r);
    try {
      await t.init(repo);
      process.stdout.write(`${t.name}: first snapshot…\n`);
      settle();
      const before = s3?.counted() ?? 0;
      r.first = await t.backup(repo, data);
      if (s3) r.requests = { first: s3.counted() - before, second: 0, restore: 0 };
    } catch (err) {
      r.error = (err as Error).message;
    }
  };
  const rest = async (t: Tool): Promise<void> => {
    const r = results.find((x) => x.tool === t.name)!;
    if (r.error) return;
    const repo = path.join(work, `repo-${t.name}`);
    const target = path.join(work, `restore-${t.name}`);
    try {
      process.stdout.write(`${t.name}: second snapshot…\n`);
      settle();
      let before = s3?.counted() ?? 0;
      r.second = await t.backup(repo, data);
      if (s3 && r.requests) r.requests.second = s3.counted() - before;
      r.repoBytes = await repoSize(repo);
      if (s3) r.objectsPerGiB = Math.round((await objectCount(repo)) / (ds.bytes / 1024 ** 3));
      await fs.rm(target, { recursive: true, force: true });
      process.stdout.write(`${t.name}: restore…\n`);
      settle();
      before = s3?.counted() ?? 0;
      r.restore = await t.restore(repo, target);
      if (s3 && r.requests) r.requests.restore = s3.counted() - before;
      const check = spawnSync('diff', ['-rq', data, t.restored ? t.restored(target, data) : path.join(target, data.startsWith('/') ? data.slice(1) : data)], { encoding: 'utf8' });
      if (check.status !== 0) r.error = `restored tree differs: ${check.stdout.slice(0, 500)}`;
    } catch (err) {
      r.error = (err as Error).message;
    } finally {
      // A failed restore's partial tree too: on the big dataset it would leave the next tool no room.
      await fs.rm(target, { recursive: true, force: true });
    }
  };
  if (dataset === 'big') {
    // One tool at a time on the same bytes: the data, one repository and one restore fit on the disk; three of each may not.
    for (const t of chosen) {
      await first(t);
      const undo = await change();
      await rest(t);
      await fs.rm(path.join(work, `repo-${t.name}`), { recursive: true, force: true });
      await fs.rm(`${path.join(work, `repo-${t.name}`)}.cache`, { recursive: true, force: true });
      if (undo) await undo();
    }
  } else {
    for (const t of chosen) await first(t);
    process.stdout.write('Applying changes…\n');
    await change();
    for (const t of chosen) await rest(t);
  }
  report(results, ds);
  await s3?.close();
  await fs.mkdir(path.join(root, 'results'), { recursive: true });
  await fs.writeFile(path.join(root, 'results', scenario === 's3' ? 's3-latest.json' : dataset === 'files' ? 'latest.json' : `${dataset}-latest.json`), JSON.stringify({ date: new Date().toISOString(), scenario, kind: dataset, sizeGiB, dataset: ds, results }, null, 2));
  if (!args.includes('--keep')) await fs.rm(work, { recursive: true, force: true });
}

function report(results: ToolResult[], ds: { files: number; bytes: number }): void {
  // Every figure a peer did measure counts, even when a later phase of that peer failed.
  const peersOk = results.filter((r) => r.tool !== 'strongbox');
  const fastest = (k: 'first' | 'second' | 'restore') => peersOk.filter((r) => r[k]).sort((a, b) => a[k]!.seconds - b[k]!.seconds)[0];
  const gib = ds.bytes / 1024 ** 3;
  const mib = ds.bytes / 1024 ** 2;
  const fmt = (r: ToolResult, k: 'first' | 'second' | 'restore') => {
    const m = r[k];
    if (!m) return '-';
    const best = r.tool === 'strongbox' ? fastest(k) : undefined;
    const ratio = best?.[k] ? ` — ${(best[k]!.seconds / m.seconds).toFixed(2)}× the speed of the fastest peer (${best.tool})` : '';
    return `${m.seconds.toFixed(1)} s, ${(mib / m.seconds).toFixed(0)} MiB/s, ${m.cpuSeconds.toFixed(1)} CPU-s (${(m.cpuSeconds / gib).toFixed(1)}/GiB), ${m.peakRssMiB.toFixed(0)} MiB RSS${ratio}`;
  };
  const smallest = peersOk.filter((r) => r.repoBytes).sort((a, b) => a.repoBytes! - b.repoBytes!)[0];
  process.stdout.write(`\nDataset: ${ds.files} files, ${gib.toFixed(2)} GiB (warm page cache)\n`);
  for (const r of results) {
    process.stdout.write(`\n${r.tool} (${r.version})\n`);
    if (r.error) process.stdout.write(`  ERROR: ${r.error}\n`);
    process.stdout.write(`  first snapshot:  ${fmt(r, 'first')}\n`);
    process.stdout.write(`  second snapshot: ${fmt(r, 'second')}\n`);
    process.stdout.write(`  restore:         ${fmt(r, 'restore')}\n`);
    if (r.repoBytes !== undefined) {
      const ratio = r.tool === 'strongbox' && smallest ? ` (${((r.repoBytes / smallest.repoBytes!) * 100).toFixed(1)} % of the smallest peer's, ${smallest.tool})` : '';
      process.stdout.write(`  repository:      ${(r.repoBytes / 1024 ** 2).toFixed(1)} MiB${ratio}\n`);
    }
    if (r.requests) process.stdout.write(`  S3 requests:     ${r.requests.first} / ${r.requests.second} / ${r.requests.restore} (first / second / restore); ${r.objectsPerGiB} objects per GiB stored\n`);
  }
}

await main();
