import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';

/**
 * A local cache of sealed tree blobs for repositories on network stores. Trees
 * are small and immutable and every incremental backup reads its parent's
 * trees, one request each on an object store; kept here (still sealed, so the
 * cache reveals nothing), they cost no request at all. Anything read from the
 * cache is authenticated like anything read from the store; a damaged entry is
 * simply fetched again.
 */
export class TreeCache {
  private readonly dir: string;
  private ok = true;

  constructor(root: string, repositoryId: string) {
    this.dir = path.join(root, repositoryId, 'trees');
  }

  private file(id: string): string {
    return path.join(this.dir, id.slice(0, 2), id);
  }

  get(id: string): Buffer | undefined {
    if (!this.ok) return undefined;
    try {
      return fs.readFileSync(this.file(id));
    } catch {
      return undefined;
    }
  }

  put(id: string, sealed: Uint8Array): void {
    if (!this.ok) return;
    const f = this.file(id);
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

  drop(id: string): void {
    fs.rmSync(this.file(id), { force: true });
  }
}
