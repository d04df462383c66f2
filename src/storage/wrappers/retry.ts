import { AppError } from '../../kernel/index.js';
import type { Backend, FileKind, Handle, ObjectInfo, ObjectWriter, RemoveOptions } from '../backend.js';

export interface RetryOptions {
  /** Attempts in all (the first try included). */
  attempts?: number;
  /** First delay; each next one doubles, with full jitter, up to `maxDelayMs`. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Called before each retry (for logs): what failed and how long we wait. */
  onRetry?: (what: string, attempt: number, delayMs: number, err: AppError) => void;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

/** Transient by the contract: STORAGE_UNAVAILABLE (outages, 5xx, throttling, dropped connections). */
export function isTransient(err: unknown): err is AppError {
  return err instanceof AppError && err.code === 'STORAGE_UNAVAILABLE';
}

/**
 * Retries transient failures with exponential backoff and full jitter; fails
 * at once on permanent ones (bad credentials, a missing bucket, a full disk,
 * NOT_FOUND). `put` may be retried because the contract makes it atomic and
 * idempotent and takes re-readable data. A listing is restarted from the
 * beginning, skipping what was already yielded; a streamed read resumes after
 * the last byte it yielded.
 */
export class RetryingBackend implements Backend {
  readonly location: string;
  private readonly attempts: number;
  private readonly base: number;
  private readonly max: number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;

  constructor(
    private readonly inner: Backend,
    private readonly opts: RetryOptions = {},
  ) {
    this.location = inner.location;
    this.attempts = opts.attempts ?? 8;
    this.base = opts.baseDelayMs ?? 200;
    this.max = opts.maxDelayMs ?? 20_000;
    this.sleep = opts.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    this.random = opts.random ?? Math.random;
    // A streamed write is not retried: its parts are gone once written (local disks, where it is offered, fail for good).
    if (inner.createWriter) this.createWriter = (kind) => inner.createWriter!(kind);
    if (inner.removeTemporaries) this.removeTemporaries = () => inner.removeTemporaries!();
    if (inner.getInto) this.getInto = (h, range, into) => this.retry(`get ${h.kind}/${h.name}`, () => inner.getInto!(h, range, into));
    if (inner.getStream) this.getStream = (h, range) => this.streamResuming(inner.getStream!.bind(inner), h, range);
  }

  createWriter?: (kind: FileKind) => Promise<ObjectWriter>;
  getInto?: (h: Handle, range: { offset: number; length: number }, into: Uint8Array) => Promise<void>;
  removeTemporaries?: () => Promise<number>;
  getStream?: (h: Handle, range: { offset: number; length: number }) => AsyncIterable<Buffer>;

  private async *streamResuming(open: (h: Handle, range: { offset: number; length: number }) => AsyncIterable<Buffer>, h: Handle, range: { offset: number; length: number }): AsyncIterable<Buffer> {
    let done = 0;
    for (let attempt = 1; ; attempt++) {
      const before = done;
      try {
        for await (const piece of open(h, { offset: range.offset + done, length: range.length - done })) {
          done += piece.length;
          yield piece;
        }
        return;
      } catch (err) {
        // Progress since the last failure earns a fresh set of attempts: a long read on a flaky link still ends.
        if (done > before) attempt = 1;
        if (!isTransient(err) || attempt >= this.attempts) {
          if (isTransient(err) && attempt > 1) throw new AppError('STORAGE_UNAVAILABLE', `${err.message} (gave up after ${attempt} attempts)`, { cause: err });
          throw err;
        }
        const delay = Math.round(this.random() * Math.min(this.max, this.base * 2 ** (attempt - 1)));
        this.opts.onRetry?.(`get ${h.kind}/${h.name} from byte ${done}`, attempt, delay, err);
        await this.sleep(delay);
      }
    }
  }

  private async retry<T>(what: string, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        if (!isTransient(err) || attempt >= this.attempts) {
          if (isTransient(err) && attempt > 1) throw new AppError('STORAGE_UNAVAILABLE', `${err.message} (gave up after ${attempt} attempts)`, { cause: err });
          throw err;
        }
        const delay = Math.round(this.random() * Math.min(this.max, this.base * 2 ** (attempt - 1)));
        this.opts.onRetry?.(what, attempt, delay, err);
        await this.sleep(delay);
      }
    }
  }

  put(h: Handle, data: Uint8Array | readonly Uint8Array[]): Promise<void> {
    return this.retry(`put ${h.kind}/${h.name}`, () => this.inner.put(h, data));
  }
  get(h: Handle, range?: { offset: number; length: number }): Promise<Buffer> {
    return this.retry(`get ${h.kind}/${h.name}`, () => this.inner.get(h, range));
  }
  stat(h: Handle): Promise<ObjectInfo> {
    return this.retry(`stat ${h.kind}/${h.name}`, () => this.inner.stat(h));
  }
  remove(h: Handle, opts?: RemoveOptions): Promise<void> {
    // A retried delete may find the object already gone: that is the goal reached.
    let tried = false;
    return this.retry(`remove ${h.kind}/${h.name}`, async () => {
      try {
        await this.inner.remove(h, opts);
      } catch (err) {
        if (tried && err instanceof AppError && err.code === 'NOT_FOUND') return;
        tried = true;
        throw err;
      }
    });
  }
  isRepository(): Promise<boolean> {
    return this.retry('check for a repository', () => this.inner.isRepository());
  }
  create(): Promise<void> {
    return this.retry('create', () => this.inner.create());
  }
  async *list(kind: FileKind): AsyncIterable<ObjectInfo> {
    const seen = new Set<string>();
    for (let attempt = 1; ; attempt++) {
      try {
        for await (const o of this.inner.list(kind)) {
          if (seen.has(o.name)) continue;
          seen.add(o.name);
          yield o;
        }
        return;
      } catch (err) {
        if (!isTransient(err) || attempt >= this.attempts) throw err;
        const delay = Math.round(this.random() * Math.min(this.max, this.base * 2 ** (attempt - 1)));
        this.opts.onRetry?.(`list ${kind}`, attempt, delay, err);
        await this.sleep(delay);
      }
    }
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}
