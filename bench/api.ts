import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { generate } from './dataset.js';

/**
 * The API scenario of `npm run bench -- --scenario api`: a server with one
 * application (the bench dataset); the same snapshot work is timed with the
 * server idle and then under load from a second process (--clients, default
 * 200: a quarter follow the running job's events, the rest list snapshots in
 * a loop, pausing --think-ms between requests, default 1000: a console's polling; 0: flat out). Reports request latency percentiles, throughput, errors, the
 * snapshot's slowdown under load, and the server's peak RSS.
 */
export interface ApiBenchResult {
  datasetBytes: number;
  clients: number;
  thinkMs: number;
  idleSnapshotSeconds: number;
  loadedSnapshotSeconds: number;
  slowdown: number;
  load: { requests: number; errors: number; seconds: number; rps: number; p50: number; p95: number; p99: number; max: number; sseClients: number; sseEvents: number; sseFirstMaxMs: number };
  idleListP50Ms: number;
  serverPeakRssMiB: number;
}

const here = path.dirname(fileURLToPath(import.meta.url));

function spec(name: string, data: string): string {
  return `apiVersion: strongbox/v1\nkind: Application\nmetadata: { name: ${name}, version: "1" }\nspec:\n  components:\n    - name: files\n      files: { path: ${data} }\n`;
}

async function api<T>(url: string, token: string, method: string, p: string, body?: unknown): Promise<T> {
  const r = await fetch(url + p, { method, headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) }, ...(body ? { body: JSON.stringify(body) } : {}) });
  if (!r.ok) throw new Error(`${method} ${p}: ${r.status} ${await r.text()}`);
  return (await r.json()) as T;
}

async function waitJob(url: string, token: string, id: string): Promise<{ startedAt: string; finishedAt: string; phase: string }> {
  for (;;) {
    const j = await api<{ phase: string; startedAt: string; finishedAt: string }>(url, token, 'GET', `/api/jobs/${id}`);
    if (j.phase !== 'queued' && j.phase !== 'running') {
      if (j.phase !== 'completed') throw new Error(`job ${id} ended ${j.phase}`);
      return j;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

const seconds = (j: { startedAt: string; finishedAt: string }) => (Date.parse(j.finishedAt) - Date.parse(j.startedAt)) / 1000;

function peakRss(p: ChildProcess): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${p.pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

export async function runApiBench(work: string, sizeGiB: number, clients: number, thinkMs: number, strongbox: string, out: (s: string) => void): Promise<ApiBenchResult> {
  await fs.mkdir(work, { recursive: true });
  const data = path.join(work, 'data');
  out(`Generating ${sizeGiB} GiB dataset in ${data}…\n`);
  const ds = await generate(data, Math.floor(sizeGiB * 1024 ** 3));
  const env = { ...process.env, STRONGBOX_HOME: path.join(work, 'home'), STRONGBOX_PASSWORD: 'bench-password', STRONGBOX_ADMIN_PASSWORD: 'bench-admin-password', STRONGBOX_CACHE_DIR: path.join(work, 'cache') };
  const cli = (...a: string[]) => {
    const r = spawnSync(process.execPath, [strongbox, ...a], { env, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`strongbox ${a.join(' ')}: ${r.stderr}`);
    return r.stdout.trim();
  };
  cli('destination', 'add', 'main', path.join(work, 'repo'), '--init');
  // Three applications over the same data: the first fills the repository; the other two do equal work (read, chunk, hash; nothing new to store).
  for (const n of ['fill', 'idle', 'loaded']) {
    await fs.writeFile(path.join(work, `${n}.yaml`), spec(n, data));
    cli('app', 'add', '-f', path.join(work, `${n}.yaml`));
  }
  const server = spawn(process.execPath, [strongbox, 'serve', '--port', '0', '--log-level', 'warn'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  const url = await new Promise<string>((resolve, reject) => {
    let err = '';
    server.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /serving at (http:\/\/\S+)/.exec(err);
      if (m) resolve(m[1]!);
    });
    server.once('exit', (c) => reject(new Error(`server exited ${c}: ${err}`)));
  });
  const token = cli('token', 'create', 'bench');
  try {
    out('fill: first snapshot…\n');
    await waitJob(url, token, (await api<{ id: string }>(url, token, 'POST', '/api/snapshots', { apps: ['fill'] })).id);
    // Idle latency of the listing, for reference.
    const idle: number[] = [];
    for (let i = 0; i < 50; i++) {
      const s = performance.now();
      await api(url, token, 'GET', '/api/snapshots');
      idle.push(performance.now() - s);
    }
    idle.sort((a, b) => a - b);
    out('idle: snapshot with no load…\n');
    const idleJob = await waitJob(url, token, (await api<{ id: string }>(url, token, 'POST', '/api/snapshots', { apps: ['idle'] })).id);
    out(`loaded: ${clients} clients for 3 s, then the snapshot under their load…\n`);
    const load = spawn(process.execPath, [path.join(here, 'api-load.js'), url, token, String(clients), String(Math.round(clients / 4)), String(thinkMs)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let loadOut = '';
    load.stdout!.on('data', (d: Buffer) => (loadOut += d.toString()));
    await new Promise((r) => setTimeout(r, 3000));
    const job = await api<{ id: string }>(url, token, 'POST', '/api/snapshots', { apps: ['loaded'] });
    const loadedJob = await waitJob(url, token, job.id);
    load.kill('SIGTERM');
    await new Promise((r) => load.once('exit', r));
    const raw = JSON.parse(loadOut) as { samples: [number, number][]; errors: number; sseClients: number; sseEvents: number; sseFirstMaxMs: number };
    // Only the requests answered while the snapshot ran.
    const from = Date.parse(loadedJob.startedAt);
    const to = Date.parse(loadedJob.finishedAt);
    const lat = raw.samples.filter(([t]) => t >= from && t <= to).map(([, l]) => l).sort((a, b) => a - b);
    const pct = (p: number) => lat[Math.min(lat.length - 1, Math.floor((p / 100) * lat.length))] ?? 0;
    const secs = (to - from) / 1000;
    const stats: ApiBenchResult['load'] = { requests: lat.length, errors: raw.errors, seconds: secs, rps: lat.length / secs, p50: pct(50), p95: pct(95), p99: pct(99), max: lat.at(-1) ?? 0, sseClients: raw.sseClients, sseEvents: raw.sseEvents, sseFirstMaxMs: raw.sseFirstMaxMs };
    return {
      datasetBytes: ds.bytes,
      clients,
      thinkMs,
      idleSnapshotSeconds: seconds(idleJob),
      loadedSnapshotSeconds: seconds(loadedJob),
      slowdown: seconds(loadedJob) / seconds(idleJob),
      load: stats,
      idleListP50Ms: idle[Math.floor(idle.length / 2)]!,
      serverPeakRssMiB: peakRss(server),
    };
  } finally {
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
  }
}

export function reportApi(r: ApiBenchResult, out: (s: string) => void): void {
  const l = r.load;
  out(`\nAPI under load: ${r.clients} clients (${l.sseClients} following the job's events, the rest listing snapshots ${r.thinkMs ? `about every ${r.thinkMs} ms` : 'back to back'}), dataset ${(r.datasetBytes / 1024 ** 3).toFixed(2)} GiB\n`);
  out(`  snapshot: ${r.idleSnapshotSeconds.toFixed(1)} s idle, ${r.loadedSnapshotSeconds.toFixed(1)} s under load (${r.slowdown.toFixed(2)}× slower)\n`);
  out(`  GET /api/snapshots while the snapshot ran: ${l.requests} requests in ${l.seconds.toFixed(1)} s = ${l.rps.toFixed(0)}/s, ${l.errors} errors; latency p50 ${l.p50.toFixed(1)} ms, p95 ${l.p95.toFixed(1)} ms, p99 ${l.p99.toFixed(1)} ms, max ${l.max.toFixed(1)} ms (idle p50 ${r.idleListP50Ms.toFixed(1)} ms)\n`);
  out(`  SSE: ${l.sseEvents} events delivered to ${l.sseClients} followers, each got its first event within ${l.sseFirstMaxMs.toFixed(0)} ms of asking\n`);
  out(`  server peak RSS: ${r.serverPeakRssMiB.toFixed(0)} MiB\n`);
}
