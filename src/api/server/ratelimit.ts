/**
 * Failed sign-ins, counted per client address and per (user, address) pair —
 * never per user name alone, so a stranger cannot lock the admin out: after
 * `limit` failures within `windowMs`, further attempts are refused until the
 * window has passed (a right password included), so guessing is slow.
 */
export class LoginLimiter {
  private failures = new Map<string, number[]>();

  constructor(private readonly limit = 5, private readonly windowMs = 15 * 60e3) {}

  /** Seconds to wait, or 0 when an attempt may be made. */
  retryAfter(keys: string[], now: number): number {
    let wait = 0;
    for (const k of keys) {
      const list = this.recent(k, now);
      if (list.length >= this.limit) wait = Math.max(wait, Math.ceil((list[0]! + this.windowMs - now) / 1000));
    }
    return wait;
  }

  /**
   * Reserves an attempt before the password is checked, so parallel guesses
   * cannot all pass the limit while the first ones are still being verified:
   * 0 and the attempt is counted, or the seconds to wait (nothing counted).
   */
  reserve(keys: string[], now: number): number {
    const wait = this.retryAfter(keys, now);
    if (wait > 0) return wait;
    this.fail(keys, now);
    return 0;
  }

  fail(keys: string[], now: number): void {
    for (const k of keys) this.failures.set(k, [...this.recent(k, now), now]);
  }

  /** A right password: the reserved attempt and earlier failures are forgotten. */
  succeed(keys: string[]): void {
    for (const k of keys) this.failures.delete(k);
  }

  private recent(k: string, now: number): number[] {
    const list = (this.failures.get(k) ?? []).filter((t) => now - t < this.windowMs);
    if (list.length) this.failures.set(k, list);
    else this.failures.delete(k);
    return list;
  }
}
