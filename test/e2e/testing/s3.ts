import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmp } from './cli.js';
import { seaweedBinary, startSeaweed, type Seaweed } from './seaweedfs.js';

export interface S3Server extends Seaweed {
  /** Where the server keeps its data. */
  dir: string;
}

/**
 * Starts a real S3 server (SeaweedFS, built by scripts/seaweedfs.sh) on free loopback ports, with
 * `buckets` created and one identity whose keys are in `env`.
 */
export async function startS3(buckets: string[] = ['strongbox-test'], dir = tmp('sb-s3-')): Promise<S3Server> {
  return { ...(await startSeaweed(seaweedBinary(), dir, buckets)), dir };
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
