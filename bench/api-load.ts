/**
 * The load of the API scenario, run as its own process so that it never
 * shares an event loop with the server or the harness: N clients against one
 * server until told to stop (SIGTERM) — most list snapshots in a loop, the
 * rest wait for a running job and follow its events (SSE). Prints one JSON
 * line: every request's (end time, latency), so the harness can take the
 * window in which the snapshot ran.
 *
 * node dist/bench/api-load.js URL TOKEN CLIENTS SSE_CLIENTS THINK_MS
 * (THINK_MS: each lister's pause between requests; 0 = as fast as the server answers.)
 */
const [url, token, clientsArg, sseArg, thinkArg] = process.argv.slice(2) as [string, string, string, string, string];
const think = Number(thinkArg ?? 0);
const clients = Number(clientsArg);
const sseClients = Number(sseArg);
const headers = { authorization: `Bearer ${token}` };
const samples: [number, number][] = [];
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
      else samples.push([Date.now(), performance.now() - s]);
    } catch {
      errors++;
    }
    if (think > 0) await new Promise((res) => setTimeout(res, think * (0.5 + Math.random())));
  }
}

async function runningJob(): Promise<string | undefined> {
  while (!stop) {
    try {
      const r = await fetch(`${url}/api/jobs?phase=running&limit=1`, { headers });
      const list = (await r.json()) as { id: string }[];
      if (list[0]) return list[0].id;
    } catch {
      /* try again */
    }
    await new Promise((res) => setTimeout(res, 100));
  }
  return undefined;
}

async function follower(): Promise<void> {
  const jobId = await runningJob();
  if (!jobId) return;
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
process.stdout.write(JSON.stringify({ samples: samples.map(([t, l]) => [t, Math.round(l * 10) / 10]), errors, seconds: (performance.now() - t0) / 1000, sseClients, sseEvents, sseFirstMaxMs: Math.max(0, ...sseFirst) }) + '\n', () => process.exit(0));

