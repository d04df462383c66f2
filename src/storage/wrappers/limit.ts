import type { Backend, FileKind, Handle, ObjectInfo, ObjectWriter, RemoveOptions } from '../backend.js';

/** At most `limit` requests to the inner backend at once (object stores throttle floods). */
export class LimitedBackend implements Backend {
  readonly location: string;
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    private readonly inner: Backend,
    private readonly limit: number,
  ) {
    this.location = inner.location;
    // One writer at a time per saver, on a local disk: not counted against the request limit.
    if (inner.createWriter) this.createWriter = (kind) => inner.createWriter!(kind);
    if (inner.removeTemporaries) this.removeTemporaries = () => inner.removeTemporaries!();
    if (inner.getInto) this.getInto = (h, range, into) => this.run(() => inner.getInto!(h, range, into));
    if (inner.getStream) {
      const open = inner.getStream.bind(inner);
      // A stream holds its slot (its connection) until it ends or its reader stops.
      this.getStream = async function* (this: LimitedBackend, h: Handle, range: { offset: number; length: number }) {
        await this.acquire();
        try {
          yield* open(h, range);
        } finally {
          this.release();
        }
      }.bind(this);
    }
  }

  createWriter?: (kind: FileKind) => Promise<ObjectWriter>;
  getInto?: (h: Handle, range: { offset: number; length: number }, into: Uint8Array) => Promise<void>;
  removeTemporaries?: () => Promise<number>;
  getStream?: (h: Handle, range: { offset: number; length: number }) => AsyncIterable<Buffer>;

  private async acquire(): Promise<void> {
    if (this.active >= this.limit) await new Promise<void>((r) => this.waiting.push(r));
    else this.active++;
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.active--;
  }

  private async run<T>(fn: () => Promise<T>): Promise<T> {
    await this.acquire();
    try {
      return await fn();
    } finally {
      this.release();
    }
  }

  put(h: Handle, data: Uint8Array | readonly Uint8Array[]): Promise<void> {
    return this.run(() => this.inner.put(h, data));
  }
  get(h: Handle, range?: { offset: number; length: number }): Promise<Buffer> {
    return this.run(() => this.inner.get(h, range));
  }
  stat(h: Handle): Promise<ObjectInfo> {
    return this.run(() => this.inner.stat(h));
  }
  remove(h: Handle, opts?: RemoveOptions): Promise<void> {
    return this.run(() => this.inner.remove(h, opts));
  }
  isRepository(): Promise<boolean> {
    return this.run(() => this.inner.isRepository());
  }
  create(): Promise<void> {
    return this.run(() => this.inner.create());
  }
  list(kind: FileKind): AsyncIterable<ObjectInfo> {
    return this.inner.list(kind);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}
