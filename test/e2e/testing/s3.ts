import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { tmp } from './cli.js';

const SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), 's3-server.js');

export interface S3Server {
  endpoint: string;
  port: number;
  dir: string;
  /** The environment a client needs (s3rver's fixed credentials). */
  env: Record<string, string>;
  kill(): void;
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of running) c.kill('SIGKILL');
});

/** Starts an S3 API server on a free loopback port, with `buckets` created; `dir` keeps its data (restart on the same dir). */
export async function startS3(buckets: string[] = ['strongbox-test'], dir = tmp('sb-s3-'), port = 0): Promise<S3Server> {
  const child = spawn(process.execPath, ['--openssl-legacy-provider', SCRIPT, dir, ...buckets], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...(port ? { S3_PORT: String(port) } : {}) } });
  running.add(child);
  const got = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /PORT (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`the S3 server exited (${code}) before it listened`)));
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    endpoint: `http://127.0.0.1:${got}`,
    port: got,
    dir,
    env: { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1' },
    kill: () => {
      child.kill('SIGKILL');
      running.delete(child);
    },
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
      running.delete(child);
    },
  };
}

export type Fault = 'pass' | '503' | '500' | 'slowdown' | 'drop' | 'forbidden' | 'cut';

/**
 * An HTTP proxy in front of the S3 server that injects faults: a function of
 * the request number and request decides what each request gets (pass it on,
 * a 503/500/SlowDown error, a dropped connection, a 403, or a response whose
 * connection drops halfway through its body: 'cut'), and a delay.
 */
export async function startFaultProxy(target: number, decide: (n: number, req: IncomingMessage) => { fault: Fault; delayMs?: number }): Promise<{ endpoint: string; counts: Record<Fault, number>; close(): Promise<void> }> {
  let n = 0;
  const counts: Record<Fault, number> = { pass: 0, '503': 0, '500': 0, slowdown: 0, drop: 0, forbidden: 0, cut: 0 };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const d = decide(++n, req);
    counts[d.fault]++;
    const act = () => {
      if (d.fault === 'drop') {
        req.socket.destroy();
        return;
      }
      if (d.fault !== 'pass' && d.fault !== 'cut') {
        const [status, code] = d.fault === '503' ? [503, 'ServiceUnavailable'] : d.fault === '500' ? [500, 'InternalError'] : d.fault === 'slowdown' ? [503, 'SlowDown'] : [403, 'InvalidAccessKeyId'];
        req.resume();
        res.writeHead(status, { 'content-type': 'application/xml' });
        res.end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>injected ${code}</Message></Error>`);
        return;
      }
      const up = request({ host: '127.0.0.1', port: target, method: req.method, path: req.url, headers: req.headers }, (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        const length = Number(r.headers['content-length'] ?? 0);
        if (d.fault !== 'cut' || length < 2) {
          r.pipe(res);
          return;
        }
        // Half the body, then the connection goes.
        let sent = 0;
        r.on('data', (b: Buffer) => {
          if (sent >= length / 2) return;
          const part = b.subarray(0, Math.ceil(length / 2) - sent);
          sent += part.length;
          res.write(part);
          if (sent >= length / 2) setTimeout(() => req.socket.destroy(), 20);
        });
      });
      up.on('error', () => req.socket.destroy());
      req.pipe(up);
    };
    if (d.delayMs) setTimeout(act, d.delayMs);
    else act();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    counts,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
