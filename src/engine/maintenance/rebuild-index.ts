import { throwIfAborted } from '../../kernel/index.js';
import { decodeIndexFile, type IndexedPack, type Repository } from '../../repo/index.js';

export interface RebuildResult {
  packs: number;
  blobs: number;
  unreadable: { pack: string; message: string; keptFromIndex: boolean }[];
  superseded: number;
  /** Index files that could not be read (superseded all the same). */
  unreadableIndexFiles: string[];
}

/**
 * Rebuilds the index from the packs' own headers, writing one index file that
 * supersedes every existing one (readable or not). A pack whose header cannot
 * be read keeps the entries a readable old index file had for it — one damaged
 * header must never turn into lost data — and is reported. Runs under the
 * exclusive lock.
 */
export async function rebuildIndex(repo: Repository, signal?: AbortSignal): Promise<RebuildResult> {
  const lock = await repo.lock(true);
  try {
    const packs: IndexedPack[] = [];
    const unreadable: RebuildResult['unreadable'] = [];
    for await (const o of repo.packs()) {
      throwIfAborted(signal);
      try {
        packs.push({ id: o.name, blobs: await repo.readPackHeader(o.name, o.size) });
      } catch (err) {
        unreadable.push({ pack: o.name, message: (err as Error).message, keptFromIndex: false });
      }
    }
    const old = await repo.listNames('index');
    const unreadableIndexFiles: string[] = [];
    const known = new Map<string, IndexedPack>();
    for (const name of old) {
      try {
        const content = decodeIndexFile(await repo.loadObject('index', name), name);
        for (const p of content.packs) known.set(p.id, p);
      } catch {
        unreadableIndexFiles.push(name);
      }
    }
    for (const u of unreadable) {
      const kept = known.get(u.pack);
      u.keptFromIndex = !!kept;
      if (kept) packs.push(kept);
    }
    await repo.saveObjectIndex({ supersedes: old, packs });
    for (const name of old) await repo.removeIndexFile(name).catch(() => undefined);
    return { packs: packs.length, blobs: packs.reduce((n, p) => n + p.blobs.length, 0), unreadable, superseded: old.length, unreadableIndexFiles };
  } finally {
    await lock.release().catch(() => undefined);
  }
}
