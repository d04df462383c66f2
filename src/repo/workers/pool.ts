import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { AppError, type ErrorCode } from '../../kernel/index.js';
import type { CodecRequest, CodecResponse } from './codec-worker.js';

/**
 * A fixed pool of codec workers (compress+seal, open+decompress+verify) so that
 * the CPU-heavy part of backup and restore uses every core. Each worker keeps
 * two requests in flight to hide message latency.
 */
export interface BlobEncoder {
  encode(raw: Uint8Array): Promise<Buffer>;
}
export interface BlobDecoder {
  decode(sealed: Uint8Array, id: Uint8Array | undefined, what: string): Promise<Buffer>;
}

type Pending = { resolve: (b: Buffer) => void; reject: (e: Error) => void };
type Job = { req: CodecRequest; transfer: ArrayBuffer[]; p: Pending };

export class CodecPool implements BlobEncoder, BlobDecoder {
  private readonly workers: { w: Worker; busy: number }[] = [];
  private readonly pending = new Map<number, Pending>();
  private readonly queue: Job[] = [];
  private seq = 0;
  private closed = false;

  constructor(keys: { encrypt: Buffer; mac: Buffer }, level: number, size = defaultPoolSize()) {
    for (let i = 0; i < size; i++) {
      const w = new Worker(new URL('./codec-worker.js', import.meta.url), {
        workerData: { encKey: new Uint8Array(keys.encrypt), macKey: new Uint8Array(keys.mac), level },
      });
      const slot = { w, busy: 0 };
      w.on('message', (res: CodecResponse) => {
        slot.busy--;
        // A worker with work in flight keeps the process alive; an idle one must not.
        if (slot.busy === 0) w.unref();
        const p = this.pending.get(res.seq);
        this.pending.delete(res.seq);
        if (p) {
          if (res.ok) p.resolve(Buffer.from(res.data.buffer, res.data.byteOffset, res.data.byteLength));
          else p.reject(new AppError(res.code as ErrorCode, res.message));
        }
        this.pump();
      });
      w.on('error', (err) => {
        for (const p of this.pending.values()) p.reject(err);
        this.pending.clear();
      });
      w.unref();
      this.workers.push(slot);
    }
  }

  get size(): number {
    return this.workers.length;
  }

  encode(raw: Uint8Array): Promise<Buffer> {
    const copy = new Uint8Array(raw.length);
    copy.set(raw);
    return this.submit({ seq: 0, op: 'encode', raw: copy }, [copy.buffer]);
  }

  decode(sealed: Uint8Array, id: Uint8Array | undefined, what: string): Promise<Buffer> {
    const copy = new Uint8Array(sealed.length);
    copy.set(sealed);
    return this.submit({ seq: 0, op: 'decode', sealed: copy, id, what }, [copy.buffer]);
  }

  private submit(req: CodecRequest, transfer: ArrayBuffer[]): Promise<Buffer> {
    if (this.closed) return Promise.reject(new AppError('INTERNAL', 'codec pool is closed'));
    return new Promise((resolve, reject) => {
      this.queue.push({ req, transfer, p: { resolve, reject } });
      this.pump();
    });
  }

  private pump(): void {
    while (this.queue.length > 0) {
      let best: { w: Worker; busy: number } | undefined;
      for (const s of this.workers) if (s.busy < 2 && (!best || s.busy < best.busy)) best = s;
      if (!best) return;
      const job = this.queue.shift()!;
      job.req.seq = ++this.seq;
      this.pending.set(job.req.seq, job.p);
      best.busy++;
      best.w.ref();
      best.w.postMessage(job.req, job.transfer);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.workers.map((s) => s.w.terminate()));
  }
}

export function defaultPoolSize(): number {
  const env = Number(process.env.STRONGBOX_WORKERS);
  if (Number.isInteger(env) && env > 0) return env;
  return Math.max(1, availableParallelism());
}
