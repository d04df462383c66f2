import { AppError } from '../kernel/index.js';
import type { PinRecord, Repository } from '../repo/index.js';
import { matchesFilter, type Snapshot, type SnapshotFilter, type SnapshotRef } from '../tree/index.js';
import { audit, targetOf, type Caller, type Env, type Where } from './context.js';
import { cachedSnapshots, listSnapshots, repositoryPins, resolveSnapshot } from './repositories.js';

/**
 * The small snapshot use-cases, one home each for the CLI (local and remote)
 * and the server: list, show, the run log, delete, pin and unpin. Each resolves
 * "id, prefix or latest" the same way, honours the repository's pins and
 * records its change in the audit log.
 */

/** Runs fn on the snapshot a request names, in the repository it names. */
async function onSnapshot<T>(env: Env, where: Where, id: string, fn: (repo: Repository, ref: SnapshotRef, destination: string | null) => Promise<T>): Promise<T> {
  const t = await targetOf(env, where);
  return env.repos.read(t, async (repo) => fn(repo, await resolveSnapshot(env.inst, repo, id), t.name));
}

/** A snapshot's latest restore drill: "verified restorable on DATE", "drill failed", or none (never verified). */
export interface Verification {
  status: 'passed' | 'failed';
  at: string;
  drill: string;
}

export interface ListedSnapshot extends SnapshotRef {
  pinned: boolean;
  destination: string | null;
  /** The latest restore drill of the snapshot; null: never verified. */
  verified: Verification | null;
}

/** The latest drill of each snapshot, from the drill records in the repository. */
export async function verifications(repo: Pick<Repository, 'listDrills'>): Promise<Map<string, Verification>> {
  const out = new Map<string, Verification>();
  for (const d of (await repo.listDrills()) as { id?: unknown; snapshot?: unknown; status?: unknown; finishedAt?: unknown }[]) {
    if (typeof d?.snapshot !== 'string' || typeof d.id !== 'string' || typeof d.finishedAt !== 'string' || (d.status !== 'passed' && d.status !== 'failed')) continue;
    const prev = out.get(d.snapshot);
    if (!prev || prev.at < d.finishedAt) out.set(d.snapshot, { status: d.status, at: d.finishedAt, drill: d.id });
  }
  return out;
}

/** Snapshots oldest first, filtered by the one rule every listing uses (tree/filter.ts). */
export async function listSnapshotsOf(env: Env, where: Where, filter: SnapshotFilter = {}): Promise<ListedSnapshot[]> {
  const t = await targetOf(env, where);
  return env.repos.read(t, async (repo) => {
    const pins = env.inst ? await repositoryPins(env.inst, repo) : new Set((await repo.listPins()).keys());
    const all = env.inst ? await cachedSnapshots(env.inst, repo) : await listSnapshots(repo);
    const verified = await verifications(repo);
    return all.filter((s) => matchesFilter(s, filter)).map((s) => ({ ...s, pinned: pins.has(s.id), destination: t.name, verified: verified.get(s.id) ?? null }));
  });
}

export async function showSnapshot(env: Env, where: Where, id: string): Promise<ListedSnapshot> {
  return onSnapshot(env, where, id, async (repo, ref, destination) => {
    const pins = env.inst ? await repositoryPins(env.inst, repo) : new Set((await repo.listPins()).keys());
    return { ...ref, pinned: pins.has(ref.id), destination, verified: (await verifications(repo)).get(ref.id) ?? null };
  });
}

/** The log an application or full snapshot keeps (hooks, tools, components), as lines. */
export async function snapshotLog(env: Env, where: Where, id: string): Promise<{ id: string; lines: string[] }> {
  // The log is blobs: read with the index as it is now (a server's kept lookup handle may predate a prune).
  const t = await targetOf(env, where);
  return env.repos.work(t, async (repo) => {
    const ref = await resolveSnapshot(env.inst, repo, id);
    const ids = ref.snapshot.log;
    if (!ids?.length) throw new AppError('NOT_FOUND', `Snapshot ${ref.id.slice(0, 8)} has no log: only application and full snapshots keep one.`);
    await repo.loadIndex();
    const parts: Buffer[] = [];
    for (const b of ids) parts.push(await repo.loadBlob(Buffer.from(b, 'hex')));
    return { id: ref.id, lines: Buffer.concat(parts).toString('utf8').split('\n').filter((l) => l !== '') };
  });
}

/** Deletes a snapshot under a shared lock; a pinned one is refused (CONFLICT), whoever asks. */
export async function deleteSnapshot(env: Env, where: Where, id: string, caller: Caller): Promise<{ deleted: string }> {
  return onSnapshot(env, where, id, async (repo, ref) => {
    if (env.inst) await repositoryPins(env.inst, repo);
    const lock = await repo.lock(false);
    try {
      await repo.removeSnapshot(ref.id);
    } finally {
      await lock.release();
    }
    if (env.inst) await cachedSnapshots(env.inst, repo);
    await audit(env, caller, 'snapshot.delete', ref.id, 'ok');
    return { deleted: ref.id };
  });
}

/** Pins a snapshot in the repository: no retention, forget or delete removes it, on any instance. */
export async function pinSnapshot(env: Env, where: Where, id: string, caller: Caller, reason?: string): Promise<{ id: string; pinned: true; pin: PinRecord }> {
  return onSnapshot(env, where, id, async (repo, ref) => {
    if (env.inst) await repositoryPins(env.inst, repo);
    const pin = await repo.pin(ref.id, caller.actor, env.clock.now(), reason);
    await audit(env, caller, 'snapshot.pin', ref.id, 'ok', reason ? { reason } : null);
    return { id: ref.id, pinned: true, pin };
  });
}

/** Removes a pin (admins only: the callers check); NOT_FOUND when it was not pinned, unless `quiet`. */
export async function unpinSnapshot(env: Env, where: Where, id: string, caller: Caller, o: { quiet?: boolean } = {}): Promise<{ id: string; pinned: false }> {
  if (caller.role !== 'admin') throw new AppError('FORBIDDEN', 'Only an admin may unpin a snapshot.');
  return onSnapshot(env, where, id, async (repo, ref) => {
    if (env.inst) await repositoryPins(env.inst, repo);
    if (!(await repo.unpin(ref.id)) && !o.quiet) throw new AppError('NOT_FOUND', `Snapshot ${ref.id.slice(0, 8)} is not pinned.`);
    await audit(env, caller, 'snapshot.unpin', ref.id, 'ok');
    return { id: ref.id, pinned: false };
  });
}

export type { Snapshot };
