/**
 * A fixed set of resources (the native core's codec handles) lent out one job at a time: work
 * on libuv's threads runs on as many lanes at once as there are handles, and waits for one
 * otherwise (first come, first served). A handle is never lent to two jobs at once.
 */
export class Lanes<T> {
  private readonly free: T[];
  private readonly waiting: ((lane: T) => void)[] = [];

  constructor(lanes: readonly T[]) {
    if (lanes.length === 0) throw new RangeError('lanes: at least one');
    this.free = [...lanes];
  }

  /** Runs `job` with a lane of its own; the lane goes to the next waiting job when it settles. */
  async run<R>(job: (lane: T) => Promise<R>): Promise<R> {
    const lane = this.free.pop() ?? (await new Promise<T>((r) => this.waiting.push(r)));
    try {
      return await job(lane);
    } finally {
      const next = this.waiting.shift();
      if (next) next(lane);
      else this.free.push(lane);
    }
  }
}
