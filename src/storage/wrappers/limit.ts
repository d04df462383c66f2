import type { Backend, FileKind, Handle, ObjectInfo } from '../backend.js';

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
  }

  private async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((r) => this.waiting.push(r));
    else this.active++;
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
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
  remove(h: Handle): Promise<void> {
    return this.run(() => this.inner.remove(h));
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
