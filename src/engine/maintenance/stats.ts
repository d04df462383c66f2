import type { StatsSource } from '../../repo/index.js';
import { listSnapshots } from '../../tree/index.js';

export interface RepoStats {
  location: string;
  repositoryId: string;
  snapshots: number;
  packs: number;
  storedBytes: number;
  blobs: { data: number; tree: number };
  uniqueRawBytes: number;
  /** Sum of every snapshot's file bytes: what a copy of each would take. */
  logicalBytes: number;
  compressionRatio: number;
  dedupRatio: number;
  keys: number;
}

export async function stats(repo: StatsSource): Promise<RepoStats> {
  const snaps = await listSnapshots(repo);
  let storedBytes = 0;
  let packs = 0;
  for await (const o of repo.packs()) {
    storedBytes += o.size;
    packs++;
  }
  let data = 0;
  let tree = 0;
  let raw = 0;
  let sealed = 0;
  for (const [, loc] of repo.index.entries()) {
    if (loc.type === 'tree') tree++;
    else data++;
    raw += loc.rawLength;
    sealed += loc.length;
  }
  const logical = snaps.reduce((n, s) => n + s.snapshot.summary.bytes, 0);
  return {
    location: repo.location,
    repositoryId: repo.config.id,
    snapshots: snaps.length,
    packs,
    storedBytes,
    blobs: { data, tree },
    uniqueRawBytes: raw,
    logicalBytes: logical,
    compressionRatio: sealed > 0 ? raw / sealed : 1,
    dedupRatio: raw > 0 ? logical / raw : 1,
    keys: (await repo.listNames('keys')).length,
  };
}
