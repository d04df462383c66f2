import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';

const HEX64 = /^[0-9a-f]{64}$/;

/** What the cache keeps: sealed tree blobs (by blob id), and whole index and snapshot objects (by name). */
export type CachedKind = 'trees' | 'index' | 'snapshots';

/**
 * A local cache for repositories on network stores, of what every command reads and
 * nothing ever changes: the sealed tree blobs (an incremental backup reads its parent's, one
 * request each), the index files (every command loads them all) and the snapshots' manifests
 * (a backup lists them to find its parent). Each costs a request on an object store; kept
 * here, none. Entries stay sealed, so the cache reveals nothing, and whatever is read from it
 * is authenticated like anything read from the store (an index file or a manifest is also
 * checked against its name, the hash of its bytes); a damaged entry is dropped and fetched
 * again. The store stays the truth: an entry is used only for a name the store lists now, and
 * entries it no longer lists are removed when it is listed (`retain`).
 */
export class LocalCache {
  private readonly dir: string;
  private ok = true;

  constructor(root: string, repositoryId: string) {
    // The id is the config's, checked when the repository was opened; checked again here.
    if (!HEX64.test(repositoryId)) throw new Error(`a cache for repository id "${repositoryId.slice(0, 80)}"`);
    this.dir = path.join(root, repositoryId);
  }

  /**
   * An entry's file; none for a name that is not 64 hex digits. Names come from the store's
   * listings, which a hostile repository writes: one like `../../x` must never become a path.
   */
  private file(kind: CachedKind, id: string): string | undefined {
    if (!HEX64.test(id)) return undefined;
    // Trees are many: a level of folders by the first two hex digits.
    return kind === 'trees' ? path.join(this.dir, kind, id.slice(0, 2), id) : path.join(this.dir, kind, id);
  }

  get(kind: CachedKind, id: string): Buffer | undefined {
    const f = this.file(kind, id);
    if (!this.ok || !f) return undefined;
    try {
      return fs.readFileSync(f);
    } catch {
      return undefined;
    }
  }

  put(kind: CachedKind, id: string, sealed: Uint8Array): void {
    const f = this.file(kind, id);
    if (!this.ok || !f) return;
    try {
      fs.mkdirSync(path.dirname(f), { recursive: true, mode: 0o700 });
      const tmp = `${f}.${randomBytes(4).toString('hex')}.tmp`;
      fs.writeFileSync(tmp, sealed, { mode: 0o600 });
      fs.renameSync(tmp, f);
    } catch {
      // A cache that cannot be written only costs requests.
      this.ok = false;
    }
  }

  drop(kind: CachedKind, id: string): void {
    const f = this.file(kind, id);
    if (f) fs.rmSync(f, { force: true });
  }

  /** Removes the entries of a kind the store no longer lists (an index file a prune replaced, a forgotten snapshot). */
  retain(kind: Exclude<CachedKind, 'trees'>, listed: readonly string[]): void {
    if (!this.ok) return;
    let names: string[];
    try {
      names = fs.readdirSync(path.join(this.dir, kind));
    } catch {
      return;
    }
    const keep = new Set(listed);
    for (const n of names) {
      // Only entries: another process's write under way (NAME.RANDOM.tmp) is left to finish.
      if (keep.has(n) || !HEX64.test(n)) continue;
      try {
        fs.rmSync(path.join(this.dir, kind, n), { force: true });
      } catch {
        /* not a file of ours: left alone */
      }
    }
  }
}
