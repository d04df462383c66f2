import { throwIfAborted } from '../../kernel/index.js';
import { decodePackHeader, type IndexedPack, type Repository } from '../../repo/index.js';

export interface RebuildResult {
  packs: number;
  blobs: number;
  unreadable: { pack: string; message: string }[];
  superseded: number;
}

/**
 * Rebuilds the index from the packs' own headers, writing one index file that
 * supersedes every existing one (readable or not). Runs under the exclusive lock.
 */
export async function rebuildIndex(repo: Repository, signal?: AbortSignal): Promise<RebuildResult> {
  const lock = await repo.lock(true);
  try {
    const packs: IndexedPack[] = [];
    const unreadable: RebuildResult['unreadable'] = [];
    for await (const o of repo.backend.list('data')) {
      throwIfAborted(signal);
      try {
        const lenBuf = await repo.backend.get({ kind: 'data', name: o.name }, { offset: o.size - 4, length: 4 });
        const hlen = lenBuf.readUInt32LE(0);
        const tailLen = Math.min(o.size, hlen + 4);
        const tail = await repo.backend.get({ kind: 'data', name: o.name }, { offset: o.size - tailLen, length: tailLen });
        packs.push({ id: o.name, blobs: decodePackHeader(repo.master.encrypt, tail, o.size, o.name) });
      } catch (err) {
        unreadable.push({ pack: o.name, message: (err as Error).message });
      }
    }
    const old = await repo.listNames('index');
    await repo.saveObjectIndex({ supersedes: old, packs });
    for (const name of old) await repo.backend.remove({ kind: 'index', name }).catch(() => undefined);
    return { packs: packs.length, blobs: packs.reduce((n, p) => n + p.blobs.length, 0), unreadable, superseded: old.length };
  } finally {
    await lock.release().catch(() => undefined);
  }
}
