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
  /** Stores the concatenation of `data` (one buffer or parts, re-readable so a retry can send them again). */
  put(h: Handle, data: Uint8Array | readonly Uint8Array[]): Promise<void>;
  get(h: Handle, range?: { offset: number; length: number }): Promise<Buffer>;
  stat(h: Handle): Promise<ObjectInfo>;
  list(kind: FileKind): AsyncIterable<ObjectInfo>;
  remove(h: Handle): Promise<void>;
  /** True when the location holds a repository (its config object exists). */
  isRepository(): Promise<boolean>;
  /** Prepares an empty location for a new repository; fails if it is not empty of repository files. */
  create(): Promise<void>;
  close(): Promise<void>;
}
