/**
 * Space in a ring buffer for blobs that are freed in any order: a blob's space is taken at
 * `head` (wrapping to the start when the end has no room) and comes back once it and every
 * blob taken before it are freed. The pure bookkeeping of a worker's ring of sealed blobs
 * (codec-worker.ts): a space is never handed out while any part of it is still in use.
 *
 * The ring stays low: it wraps to the start as soon as the start has room for the blob and an
 * eighth of the ring more (less leaves a window so small that the next blobs would not fit and
 * get buffers of their own), rather than only at the end, and goes past the farthest byte it
 * has handed out (`reach`) only when the start has no such room. A page of the ring costs
 * memory from the first time it is written, so the pages touched are about the most bytes in
 * flight, not the whole ring: an incremental snapshot peaks 2.7 MiB lower (docs/PERFORMANCE.md).
 */
export class RingSpace {
  /** Where the next blob goes. */
  private head = 0;
  /** The end of the farthest space handed out so far: the ring's pages below it are touched. */
  private reach = 0;
  /** Blobs in the ring, oldest first. */
  private readonly live: { start: number; freed: boolean }[] = [];

  constructor(readonly size: number) {}

  /** How many blobs are taken and not yet reusable. */
  get inUse(): number {
    return this.live.length;
  }

  /** How far into the ring space has ever been handed out. */
  get touched(): number {
    return this.reach;
  }

  /**
   * Where `room` bytes are free, or -1. Take it with `take` (the blob may end up shorter).
   * From `head` up to the oldest blob still in use; never up to it exactly, so that
   * head === tail always means empty. Past `reach` only when the start has no room.
   */
  place(room: number): number {
    if (room > this.size || room <= 0) return -1;
    if (this.live.length === 0) return (this.head = 0);
    const tail = this.live[0]!.start;
    if (this.head < tail) return this.head + room < tail ? this.head : -1;
    if (this.head + room <= this.reach) return this.head;
    if (tail - room >= this.size / 8) return 0;
    return this.head + room <= this.size ? this.head : -1;
  }

  /** Takes [at, at + length) where `place` said (length at most the room asked for, at least 1). */
  take(at: number, length: number): void {
    this.live.push({ start: at, freed: false });
    this.head = at + length;
    if (this.head > this.reach) this.reach = this.head;
  }

  /** The blob taken at `start` is no longer used; unknown starts are ignored. */
  free(start: number): void {
    for (const b of this.live) {
      if (b.start === start && !b.freed) {
        b.freed = true;
        break;
      }
    }
    while (this.live[0]?.freed) this.live.shift();
  }
}
