import { connect, type Socket } from 'node:net';
import { PassThrough, type Readable } from 'node:stream';
import { AppError } from '../../kernel/index.js';

export type Reply = string | number | null | Buffer | Reply[] | { error: string };

function encode(args: string[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = Buffer.from(a, 'utf8');
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

/** Parses one reply at the start of `buf`; undefined when more bytes are needed. */
export function parseReply(buf: Buffer, at = 0): { reply: Reply; end: number } | undefined {
  const nl = buf.indexOf('\r\n', at);
  if (nl < 0) return undefined;
  const line = buf.toString('utf8', at + 1, nl);
  switch (buf[at]) {
    case 0x2b: // +
      return { reply: line, end: nl + 2 };
    case 0x2d: // -
      return { reply: { error: line }, end: nl + 2 };
    case 0x3a: // :
      return { reply: Number(line), end: nl + 2 };
    case 0x24: {
      // $
      const len = Number(line);
      if (len < 0) return { reply: null, end: nl + 2 };
      if (buf.length < nl + 2 + len + 2) return undefined;
      return { reply: buf.subarray(nl + 2, nl + 2 + len), end: nl + 2 + len + 2 };
    }
    case 0x2a: {
      // *
      const n = Number(line);
      if (n < 0) return { reply: null, end: nl + 2 };
      const items: Reply[] = [];
      let pos = nl + 2;
      for (let i = 0; i < n; i++) {
        const r = parseReply(buf, pos);
        if (!r) return undefined;
        items.push(r.reply);
        pos = r.end;
      }
      return { reply: items, end: pos };
    }
    default:
      throw new AppError('CORRUPT', `Unexpected reply from Redis: ${JSON.stringify(buf.toString('latin1', at, Math.min(buf.length, at + 40)))}`);
  }
}

export interface RedisTarget {
  host: string;
  port: number;
  user?: string;
  password?: string;
}

export function parseRedisUrl(url: string, password?: string): RedisTarget {
  const u = new URL(url);
  return { host: u.hostname || '127.0.0.1', port: Number(u.port || 6379), ...(u.username ? { user: decodeURIComponent(u.username) } : {}), ...(password !== undefined ? { password } : {}) };
}

/** A tiny RESP client: one command at a time, then optionally the raw replication stream. */
export class RedisConnection {
  private buf: Buffer = Buffer.alloc(0);
  private waiting: (() => void) | undefined;
  private failure: Error | undefined;
  private constructor(readonly socket: Socket) {
    socket.on('data', (d: Buffer) => {
      this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
      this.wake();
    });
    socket.on('error', (e) => {
      this.failure = e;
      this.wake();
    });
    socket.on('close', () => {
      this.failure ??= new Error('connection closed');
      this.wake();
    });
  }

  private wake(): void {
    const w = this.waiting;
    this.waiting = undefined;
    w?.();
  }

  static open(t: RedisTarget, timeoutMs = 10_000): Promise<RedisConnection> {
    return new Promise((resolve, reject) => {
      const s = connect({ host: t.host, port: t.port });
      const timer = setTimeout(() => {
        s.destroy();
        reject(new AppError('STORAGE_UNAVAILABLE', `Cannot connect to Redis at ${t.host}:${t.port}: no answer within ${timeoutMs / 1000}s.`));
      }, timeoutMs);
      s.once('connect', () => {
        clearTimeout(timer);
        const c = new RedisConnection(s);
        const auth = t.password !== undefined ? c.command(t.user ? ['AUTH', t.user, t.password] : ['AUTH', t.password]) : Promise.resolve('OK' as Reply);
        auth.then(
          (r) => {
            if (typeof r === 'object' && r !== null && 'error' in r) {
              s.destroy();
              reject(new AppError('PERMISSION_DENIED', `Redis at ${t.host}:${t.port} refused the credentials: ${r.error}`));
            } else resolve(c);
          },
          (e: unknown) => reject(e instanceof Error ? e : new Error(String(e))),
        );
      });
      s.once('error', (e) => {
        clearTimeout(timer);
        reject(new AppError('STORAGE_UNAVAILABLE', `Cannot connect to Redis at ${t.host}:${t.port}: ${e.message}`, { cause: e }));
      });
    });
  }

  async command(args: string[]): Promise<Reply> {
    this.socket.write(encode(args));
    for (;;) {
      const r = this.buf.length > 0 ? parseReply(this.buf) : undefined;
      if (r) {
        this.buf = this.buf.subarray(r.end);
        return r.reply;
      }
      if (this.failure) throw new AppError('STORAGE_UNAVAILABLE', `Redis connection failed: ${this.failure.message}`);
      await new Promise<void>((res) => (this.waiting = res));
    }
  }

  /**
   * Asks for a full resynchronisation as a replica that wants only the RDB
   * (what `redis-cli --rdb` does) and returns the RDB as a stream. Handles
   * both transfer forms: a length prefix, or (diskless) an EOF marker.
   */
  async rdbStream(): Promise<Readable> {
    await this.command(['REPLCONF', 'rdb-only', '1']); // Redis ≥ 7; older servers answer an error, which is fine
    const capa = await this.command(['REPLCONF', 'capa', 'eof']);
    if (typeof capa === 'object' && capa !== null && 'error' in capa) throw new AppError('INTERNAL', `Redis refused REPLCONF: ${capa.error}`);
    this.socket.write(encode(['SYNC']));
    this.socket.removeAllListeners('data');
    const out = new PassThrough({ highWaterMark: 1024 * 1024 });
    let header: Buffer = this.buf;
    this.buf = Buffer.alloc(0);
    let mode: { kind: 'len'; left: number } | { kind: 'eof'; marker: Buffer; held: Buffer } | undefined;
    const finish = () => {
      this.socket.removeAllListeners('data');
      this.socket.destroy();
      out.end();
    };
    const push = (d: Buffer) => {
      if (!out.write(d)) {
        this.socket.pause();
        out.once('drain', () => this.socket.resume());
      }
    };
    const onData = (d: Buffer) => {
      if (!mode) {
        header = Buffer.concat([header, d]);
        // The master sends bare newlines while it prepares the RDB.
        let i = 0;
        while (i < header.length && header[i] === 0x0a) i++;
        header = header.subarray(i);
        const nl = header.indexOf('\r\n');
        if (nl < 0) return;
        const line = header.toString('latin1', 0, nl);
        const rest = header.subarray(nl + 2);
        if (line.startsWith('-')) {
          out.destroy(new AppError('INTERNAL', `Redis refused to send its data: ${line.slice(1)}`));
          this.socket.destroy();
          return;
        }
        if (line.startsWith('$EOF:')) mode = { kind: 'eof', marker: Buffer.from(line.slice(5), 'latin1'), held: Buffer.alloc(0) };
        else if (line.startsWith('$')) mode = { kind: 'len', left: Number(line.slice(1)) };
        else {
          out.destroy(new AppError('INTERNAL', `Unexpected answer to SYNC from Redis: ${line.slice(0, 60)}`));
          this.socket.destroy();
          return;
        }
        if (rest.length === 0) return;
        d = rest;
      }
      if (mode.kind === 'len') {
        const take = d.subarray(0, mode.left);
        mode.left -= take.length;
        push(take);
        if (mode.left === 0) finish();
        return;
      }
      const all = mode.held.length > 0 ? Buffer.concat([mode.held, d]) : d;
      const m = mode.marker.length;
      if (all.length >= m && all.subarray(all.length - m).equals(mode.marker)) {
        push(all.subarray(0, all.length - m));
        finish();
        return;
      }
      if (all.length > m) {
        push(all.subarray(0, all.length - m));
        mode.held = Buffer.from(all.subarray(all.length - m));
      } else mode.held = Buffer.from(all);
    };
    this.socket.on('data', onData);
    this.socket.on('close', () => {
      if (!out.writableEnded) out.destroy(new AppError('STORAGE_UNAVAILABLE', 'Redis closed the connection before the whole RDB arrived.'));
    });
    if (header.length > 0) {
      const h = header;
      header = Buffer.alloc(0);
      onData(h);
    }
    return out;
  }

  close(): void {
    this.socket.destroy();
  }
}
