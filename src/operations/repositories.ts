import { AppError } from '../kernel/index.js';
import type { Repository } from '../repo/index.js';
import { byOrigin, findSnapshot, listSnapshots, type Snapshot, type SnapshotRef } from '../tree/index.js';
import type { BackendCredentials } from '../app/index.js';
import { codecPool, openRepository, restoreCodecs } from '../app/index.js';
import type { Instance } from '../app/index.js';
import type { BlobDecoder, BlobWriter, CodecPool } from '../repo/index.js';

/** A repository to work on: where, its password, the store's credentials, and the destination's name if it has one. */
export interface Target {
  name: string | null;
  location: string;
  password: string;
  credentials?: BackendCredentials;
}

/** A destination of the instance (its default when no name is given), with its secrets opened. */
export async function destinationTarget(inst: Instance, name?: string | null): Promise<Target> {
  const d = name ? await inst.destinations.get(name) : await inst.destinations.getDefault();
  if (!d) throw new AppError('USAGE', 'This instance has no default destination: add one ("strongbox destination add NAME LOCATION --init --default") or name one.');
  return { name: d.name, location: d.location, password: inst.resolvePassword(d.password), credentials: inst.resolveCredentials(d) };
}

export async function withTarget<T>(t: Target, fn: (repo: Repository) => Promise<T>, opts: { loadIndex?: boolean } = {}): Promise<T> {
  const repo = await openRepository(t.location, t.password, { loadIndex: opts.loadIndex ?? false, ...(t.credentials ? { credentials: t.credentials } : {}) });
  try {
    return await fn(repo);
  } finally {
    await repo.close();
  }
}

export async function withCodecPool<T>(repo: Repository, fn: (pool: CodecPool) => Promise<T>): Promise<T> {
  const pool = codecPool(repo);
  try {
    return await fn(pool);
  } finally {
    await pool.close();
  }
}

/** What a restore or a drill decodes and writes with, for the duration of `fn` (app/open.ts: restoreCodecs). */
export async function withRestoreCodecs<T>(repo: Repository, fn: (codecs: BlobDecoder & BlobWriter) => Promise<T>): Promise<T> {
  const r = restoreCodecs(repo);
  try {
    return await fn(r.codecs);
  } finally {
    await r.close();
  }
}

/** The repository's snapshots, through the catalog's cache (reconciled with the repository on every call). */
export async function cachedSnapshots(inst: Instance, repo: Repository): Promise<SnapshotRef[]> {
  const rows = await inst.snapshots.reconcile(repo.location, await repo.listNames('snapshots'), (id) => repo.loadJSON<Record<string, unknown>>('snapshots', id));
  return rows.map((r) => ({ id: r.id, snapshot: r.manifest as unknown as Snapshot })).sort((a, b) => a.snapshot.time.localeCompare(b.snapshot.time) || a.id.localeCompare(b.id));
}

/** A snapshot by id, unique prefix or "latest" (listing through the cache). */
export async function resolveSnapshot(inst: Instance | undefined, repo: Repository, ref: string): Promise<SnapshotRef> {
  // Without an instance (the CLI on --repo) the repository is listed directly; the rules are the same.
  if (!inst) return findSnapshot(repo, ref);
  if (ref !== 'latest' && !/^[0-9a-f]+$/.test(ref)) throw new AppError('INVALID_ARGUMENT', `"${ref}" is not a snapshot id (hex digits, or "latest").`);
  if (ref === 'latest' || ref.length < 64) {
    const list = await cachedSnapshots(inst, repo);
    if (ref === 'latest') {
      const last = list.at(-1);
      if (!last) throw new AppError('NOT_FOUND', 'The repository has no snapshots yet.');
      return last;
    }
    const m = list.filter((s) => s.id.startsWith(ref));
    if (m.length === 1) return m[0]!;
    if (m.length > 1) throw new AppError('AMBIGUOUS_ID', `"${ref}" matches ${m.length} snapshots; give more characters of the id.`);
    // A copied, archived or uploaded snapshot is also found by the id it was first written under.
    return byOrigin(ref, list, repo.location);
  }
  return findSnapshot(repo, ref);
}

export { listSnapshots };

/**
 * The repository's pins, after moving any that this instance's catalog still
 * holds for it (pins were kept in the catalog before they moved into the
 * repository, where every instance sees them).
 */
export async function repositoryPins(inst: Instance, repo: Repository): Promise<Set<string>> {
  for (const p of await inst.pins.entries(repo.location)) {
    await repo.pin(p.id, p.by, new Date(p.at));
    await inst.pins.unpin(repo.location, p.id);
  }
  return new Set((await repo.listPins()).keys());
}
