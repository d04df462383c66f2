/**
 * The Backend contract: the only thing the repository engine knows about storage.
 *
 * Guarantees every implementation must give (tested once for all of them by
 * `testing/conformance.ts`):
 *
 * 1. **Atomic put.** After `put` resolves, the whole object is stored durably
 *    (on local disk: written to a temp file, fsynced, renamed, directory fsynced);
 *    a crash during `put` leaves either nothing or the complete object under the
 *    key, never a torn one.
 * 2. **Immutable keys.** Keys are content addresses (or unique ids); callers never
 *    rewrite an existing key with different bytes. Writing the same key again with
 *    the same bytes is allowed and idempotent.
 * 3. **Read-after-write.** Once `put` resolves, `get`, `stat` and `list` see the object.
 * 4. **Errors are typed.** A missing object rejects with `NOT_FOUND`; a full disk or
 *    quota with `STORAGE_FULL`; a transient outage with `STORAGE_UNAVAILABLE` (safe to
 *    retry); bad credentials or permissions with `PERMISSION_DENIED` (permanent).
 * 5. **Ranged reads** return exactly `length` bytes from `offset`, or reject with
 *    `CORRUPT` if the object is shorter.
 * 6. **Streamed reads** (optional, for stores where a request costs more than its
 *    bytes): `getStream` yields pieces of any size, as they arrive, whose
 *    concatenation is exactly the range; a shorter object ends the stream with
 *    `CORRUPT`, a dropped connection with `STORAGE_UNAVAILABLE` (the retry
 *    wrapper then resumes after the last byte yielded). A caller may stop early.
 */
export type FileKind = 'config' | 'keys' | 'data' | 'index' | 'snapshots' | 'locks' | 'pins' | 'drills';

/** Every kind of object, in a fixed order (archives number kinds by it: only ever append). */
export const fileKinds: readonly FileKind[] = ['config', 'keys', 'data', 'index', 'snapshots', 'locks', 'pins', 'drills'];

export interface Handle {
  kind: FileKind;
  /** For `config` the name is ignored. */
  name: string;
}

export interface ObjectInfo {
  name: string;
  size: number;
}

export interface Backend {
  /** A human-readable location, without credentials. */
  readonly location: string;
  /**
   * Stores the concatenation of `data` (one buffer or parts, re-readable so a retry can send them
   * again). Once the promise settles the caller may write into `data` again (the saver reuses its
   * pack buffer): a store that keeps bytes past that copies them.
   */
  put(h: Handle, data: Uint8Array | readonly Uint8Array[]): Promise<void>;
  get(h: Handle, range?: { offset: number; length: number }): Promise<Buffer>;
  /**
   * Optional: an object written as its parts arrive (a pack need not be whole in
   * memory). Nothing is visible before `commit(name)`, which is then as atomic and
   * durable as `put`; `abort` (or a failed write or commit) leaves nothing.
   */
  createWriter?(kind: FileKind): Promise<ObjectWriter>;
  /**
   * Optional, with `createWriter`: deletes the temporary files of writes that never
   * committed (a killed process leaves its open pack). Only under the exclusive
   * lock, when no writer can be running. Returns how many it removed.
   */
  removeTemporaries?(): Promise<number>;
  /**
   * Optional: a ranged read into the caller's buffer (local disks), exactly
   * `range.length` bytes or `CORRUPT`; a restore reuses a few shared buffers
   * instead of making a fresh one per range.
   */
  getInto?(h: Handle, range: { offset: number; length: number }, into: Uint8Array): Promise<void>;
  /** One request for a span that `get` would need to hold in memory at once (remote stores only; see 6.). */
  getStream?(h: Handle, range: { offset: number; length: number }): AsyncIterable<Buffer>;
  stat(h: Handle): Promise<ObjectInfo>;
  list(kind: FileKind): AsyncIterable<ObjectInfo>;
  /**
   * Removes an object; a missing one is NOT_FOUND, unless `missingOk`: then it resolves, and a
   * store may skip looking first (S3 deletes of missing keys succeed, so it checks with a HEAD:
   * one request fewer for a lock's release or prune's deletes, which do not care).
   */
  remove(h: Handle, opts?: RemoveOptions): Promise<void>;
  /** True when the location holds a repository (its config object exists). */
  isRepository(): Promise<boolean>;
  /** Prepares an empty location for a new repository; fails if it is not empty of repository files. */
  create(): Promise<void>;
  close(): Promise<void>;
}

export interface RemoveOptions {
  /** A missing object is not an error. */
  missingOk?: boolean;
}

export interface ObjectWriter {
  write(parts: readonly Uint8Array[]): Promise<void>;
  commit(name: string): Promise<void>;
  abort(): Promise<void>;
}
