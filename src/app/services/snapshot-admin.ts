import { AppError } from '../../kernel/index.js';
import type { PinRecord, Repository } from '../../repo/index.js';
import type { SnapshotRef } from '../../tree/index.js';
import type { Instance } from '../instance.js';
import { repositoryPins } from './repositories.js';

/**
 * The small snapshot use-cases with one home, for the CLI (local and remote)
 * and the server alike: the run log, delete, pin and unpin. Each takes the
 * already opened repository and resolved snapshot; the callers authorize.
 */

/** The log an application or full snapshot keeps (hooks, tools, components). */
export async function snapshotLog(repo: Repository, ref: SnapshotRef): Promise<string> {
  const ids = ref.snapshot.log;
  if (!ids?.length) throw new AppError('NOT_FOUND', `Snapshot ${ref.id.slice(0, 8)} has no log: only application and full snapshots keep one.`);
  await repo.loadIndex();
  const parts: Buffer[] = [];
  for (const id of ids) parts.push(await repo.loadBlob(Buffer.from(id, 'hex')));
  return Buffer.concat(parts).toString('utf8');
}

/** Deletes a snapshot under a shared lock; a pinned one is refused (CONFLICT), whoever asks. */
export async function deleteSnapshot(inst: Instance | undefined, repo: Repository, ref: SnapshotRef): Promise<{ deleted: string }> {
  if (inst) await repositoryPins(inst, repo);
  const lock = await repo.lock(false);
  try {
    await repo.removeSnapshot(ref.id);
  } finally {
    await lock.release();
  }
  return { deleted: ref.id };
}

export async function pinSnapshot(inst: Instance | undefined, repo: Repository, ref: SnapshotRef, by: string, now: Date, reason?: string): Promise<PinRecord> {
  if (inst) await repositoryPins(inst, repo);
  return repo.pin(ref.id, by, now, reason);
}

/** Removes a pin (admins only: the callers check); NOT_FOUND when it was not pinned, unless `quiet`. */
export async function unpinSnapshot(inst: Instance | undefined, repo: Repository, ref: SnapshotRef, o: { quiet?: boolean } = {}): Promise<{ id: string; pinned: false }> {
  if (inst) await repositoryPins(inst, repo);
  if (!(await repo.unpin(ref.id)) && !o.quiet) throw new AppError('NOT_FOUND', `Snapshot ${ref.id.slice(0, 8)} is not pinned.`);
  return { id: ref.id, pinned: false };
}
