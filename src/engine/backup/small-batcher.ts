import type { FileChunker, SmallResult } from '../../repo/index.js';

const MAX_FILES = 64;
const MAX_BYTES = 2 * 1024 * 1024;
const FLUSH_DELAY_MS = 0;

/**
 * Groups small files into batches for the worker pool, so a directory of
 * thousands of small files costs a few thread hops per batch rather than per
 * file. The dedup decision is made per batch, before anything is compressed. Batches hold at most 64 files or 2 MiB, and at most `maxInFlight` are
 * outstanding (`add` waits beyond that), which bounds memory however many files
 * a directory holds.
 */
export class SmallBatcher {
  private paths: Buffer[] = [];
  private bytes = 0;
  private resolvers: { resolve: (r: SmallResult) => void; reject: (e: unknown) => void }[] = [];
  private inFlight = 0;
  private readonly waiters: (() => void)[] = [];
  private timer: NodeJS.Immediate | NodeJS.Timeout | undefined;

  constructor(
    private readonly pool: FileChunker,
    /** Reserves an id for storing (false: already stored or claimed); called as a batch's ids come in. */
    private readonly claim: (id: Buffer) => boolean,
    /** Gives up claims whose blobs will not arrive because the batch failed. */
    private readonly unclaim: (id: Buffer) => void,
    private readonly maxInFlight = 8,
  ) {}

  /** Queues a file; the ticket's promise settles when its batch comes back. */
  async add(path: Buffer, size: number): Promise<{ result: Promise<SmallResult> }> {
    while (this.inFlight >= this.maxInFlight) await new Promise<void>((r) => this.waiters.push(r));
    const result = new Promise<SmallResult>((resolve, reject) => this.resolvers.push({ resolve, reject }));
    result.catch(() => undefined);
    this.paths.push(path);
    this.bytes += size;
    if (this.paths.length >= MAX_FILES || this.bytes >= MAX_BYTES) this.dispatch();
    return { result };
  }

  /** Sends a partial batch once the current turn of work has queued what it can. */
  flushSoon(): void {
    if (this.timer || this.paths.length === 0) return;
    this.timer = FLUSH_DELAY_MS > 0 ? setTimeout(() => this.dispatch(), FLUSH_DELAY_MS) : setImmediate(() => this.dispatch());
  }

  private dispatch(): void {
    this.timer = undefined;
    if (this.paths.length === 0) return;
    const paths = this.paths;
    const resolvers = this.resolvers;
    this.paths = [];
    this.resolvers = [];
    this.bytes = 0;
    this.inFlight++;
    const claimed: Buffer[] = [];
    const decide = (ids: Buffer[]) =>
      ids.map((id) => {
        const mine = this.claim(id);
        if (mine) claimed.push(Buffer.from(id));
        return mine;
      });
    this.pool
      .chunkSmall(paths, decide)
      .then(
        (results) => results.forEach((r, i) => resolvers[i]!.resolve(r)),
        (err: unknown) => {
          for (const id of claimed) this.unclaim(id);
          resolvers.forEach((r) => r.reject(err));
        },
      )
      .finally(() => {
        this.inFlight--;
        this.waiters.shift()?.();
      });
  }
}
