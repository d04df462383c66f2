import { AppError, matchPrefix } from '../kernel/index.js';
import type { Repository } from '../repo/index.js';

export interface SnapshotWarning {
  path?: string;
  message: string;
}

export interface SnapshotSummary {
  files: number;
  dirs: number;
  bytes: number;
  newFiles: number;
  changedFiles: number;
  unchangedFiles: number;
  /** Raw bytes of blobs this snapshot added to the repository. */
  newBytes: number;
  /** Stored (compressed, encrypted) bytes it added. */
  storedBytes: number;
  durationMs: number;
}

/** A snapshot manifest (snapshots/<id>, sealed). Its id is the SHA-256 of the stored object. */
export interface Snapshot {
  version: 1;
  time: string;
  host: string;
  username: string;
  paths: string[];
  tags: string[];
  parent?: string;
  tree: string;
  partial: boolean;
  warnings: SnapshotWarning[];
  warningCount: number;
  summary: SnapshotSummary;
  program: string;
}

export interface SnapshotRef {
  id: string;
  snapshot: Snapshot;
}

export async function listSnapshots(repo: Repository): Promise<SnapshotRef[]> {
  const out: SnapshotRef[] = [];
  for (const id of await repo.listNames('snapshots')) out.push({ id, snapshot: await repo.loadJSON<Snapshot>('snapshots', id) });
  return out.sort((a, b) => a.snapshot.time.localeCompare(b.snapshot.time) || a.id.localeCompare(b.id));
}

/** Resolves an id, a unique prefix of one, or `latest`. */
export async function findSnapshot(repo: Repository, ref: string): Promise<SnapshotRef> {
  if (ref === 'latest') {
    const all = await listSnapshots(repo);
    const last = all[all.length - 1];
    if (!last) throw new AppError('NOT_FOUND', 'The repository has no snapshots yet.');
    return last;
  }
  if (!/^[0-9a-f]+$/.test(ref)) throw new AppError('INVALID_ARGUMENT', `"${ref}" is not a snapshot id (hex digits, or "latest").`);
  const match = matchPrefix(ref, await repo.listNames('snapshots'));
  if (match === 'ambiguous') throw new AppError('AMBIGUOUS_ID', `"${ref}" matches several snapshots; give more characters of the id.`);
  if (match === undefined) throw new AppError('NOT_FOUND', `No snapshot "${ref}" in ${repo.location}. "strongbox snapshot list" shows them.`);
  return { id: match, snapshot: await repo.loadJSON<Snapshot>('snapshots', match) };
}
