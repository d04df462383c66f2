/** Counting semaphore for bounding concurrent work. */
export class Semaphore {
  private readonly waiters: (() => void)[] = [];

  constructor(private free: number) {}

  async acquire(): Promise<void> {
    if (this.free > 0) {
      this.free--;
      return;
    }
    await new Promise<void>((r) => this.waiters.push(r));
  }

  release(): void {
    const w = this.waiters.shift();
    if (w) w();
    else this.free++;
  }
}

/** A set of running tasks: failures are kept (never unhandled) and surfaced once all have settled. */
export class Tasks {
  private readonly running = new Set<Promise<void>>();
  private failure: unknown;
  private failed = false;

  add(p: Promise<void>): void {
    const q = p.catch((err: unknown) => {
      if (!this.failed) {
        this.failed = true;
        this.failure = err;
      }
    });
    this.running.add(q);
    void q.finally(() => this.running.delete(q));
  }

  async settle(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running]);
  }

  throwIfFailed(): void {
    if (this.failed) throw this.failure;
  }
}
