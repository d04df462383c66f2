/**
 * The load of the API scenario, run as its own process so that it never
 * shares an event loop with the server or the harness: N clients against one
 * server until told to stop (SIGTERM) — most list snapshots in a loop, the
 * rest follow a running job's events (SSE). Prints one JSON line of results.
 *
 * node dist/bench/api-load.js URL TOKEN JOB_ID CLIENTS SSE_CLIENTS THINK_MS
 * (THINK_MS: each lister's pause between requests; 0 = as fast as the server answers.)
 */
const [url, token, jobId, clientsArg, sseArg, thinkArg] = process.argv.slice(2) as [string, string, string, string, string, string];
const think = Number(thinkArg ?? 0);
const clients = Number(clientsArg);
const sseClients = Number(sseArg);
const headers = { authorization: `Bearer ${token}` };
const latencies: number[] = [];
let errors = 0;
let stop = false;
let sseEvents = 0;
const sseFirst: number[] = [];
process.on('SIGTERM', () => (stop = true));
const t0 = performance.now();

async function lister(): Promise<void> {
  while (!stop) {
    const s = performance.now();
    try {
      const r = await fetch(`${url}/api/snapshots`, { headers });
      await r.arrayBuffer();
      if (!r.ok) errors++;
      else latencies.push(performance.now() - s);
    } catch {
      errors++;
    }
    if (think > 0) await new Promise((res) => setTimeout(res, think * (0.5 + Math.random())));
  }
}

async function follower(): Promise<void> {
  const s = performance.now();
  const ac = new AbortController();
  const timer = setInterval(() => stop && ac.abort(), 100);
  try {
    const r = await fetch(`${url}/api/jobs/${jobId}/events`, { headers, signal: ac.signal });
    const reader = r.body!.getReader();
    let first = true;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (first) {
        sseFirst.push(performance.now() - s);
        first = false;
      }
      sseEvents += (Buffer.from(value).toString().match(/\nevent: /g) ?? []).length + 1;
    }
  } catch {
    if (!stop) errors++;
  } finally {
    clearInterval(timer);
  }
}

const work = [...Array.from({ length: clients - sseClients }, lister), ...Array.from({ length: sseClients }, follower)];
await Promise.all(work);
const secs = (performance.now() - t0) / 1000;
latencies.sort((a, b) => a - b);
const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? 0;
process.stdout.write(
  JSON.stringify({ requests: latencies.length, errors, seconds: secs, rps: latencies.length / secs, p50: pct(50), p95: pct(95), p99: pct(99), max: latencies.at(-1) ?? 0, sseClients, sseEvents, sseFirstMaxMs: Math.max(0, ...sseFirst) }) + '\n',
);
process.exit(0);
