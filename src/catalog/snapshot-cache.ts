import { mapConcurrent } from '../kernel/index.js';
import type { Catalog } from './database.js';

export interface CachedSnapshot {
  id: string;
  manifest: unknown;
}

/**
 * Snapshot listings cached per repository. The repository is the truth: a
 * listing is reconciled with the repository's snapshot names on every use, so
 * new snapshots are read once and deleted ones disappear; a fresh instance
 * builds the cache from the repository on its first listing.
 */
export class SnapshotCache {
  /** The last reconciled listing per repository: manifests never change, so the same names give the same rows. */
  private memo = new Map<string, { key: string; rows: { id: string; manifest: Record<string, unknown> }[] }>();

  constructor(private readonly db: Catalog) {}

  async reconcile(repository: string, names: string[], load: (id: string) => Promise<Record<string, unknown>>): Promise<{ id: string; manifest: Record<string, unknown> }[]> {
    const key = names.join(',');
    const hit = this.memo.get(repository);
    if (hit && hit.key === key) return [...hit.rows];
    const rows = await this.reconcileRows(repository, names, load);
    this.memo.set(repository, { key, rows });
    return [...rows];
  }

  private async reconcileRows(repository: string, names: string[], load: (id: string) => Promise<Record<string, unknown>>): Promise<{ id: string; manifest: Record<string, unknown> }[]> {
    const rows = await this.db.selectFrom('snapshot_cache').select(['id', 'manifest']).where('repository', '=', repository).execute();
    const cached = new Map(rows.map((r) => [r.id, JSON.parse(r.manifest) as Record<string, unknown>]));
    const present = new Set(names);
    const gone = [...cached.keys()].filter((id) => !present.has(id));
    if (gone.length > 0) await this.db.deleteFrom('snapshot_cache').where('repository', '=', repository).where('id', 'in', gone).execute();
    // The manifests not seen before, several in flight (a new instance on an object store reads them all).
    const missing = names.filter((id) => !cached.has(id));
    const loaded = new Map((await mapConcurrent(missing, 8, load)).map((m, i) => [missing[i]!, m]));
    const out: { id: string; manifest: Record<string, unknown> }[] = [];
    for (const id of names) {
      let m = cached.get(id);
      if (!m) {
        m = loaded.get(id)!;
        const apps = ((m.applications as { name: string }[] | undefined) ?? []).map((a) => a.name);
        await this.db
          .insertInto('snapshot_cache')
          .values({
            repository,
            id,
            time: String(m.time),
            type: String(m.type ?? 'files'),
            status: String(m.status ?? (m.partial ? 'partial' : 'completed')),
            apps: apps.join(','),
            tags: JSON.stringify(m.tags ?? []),
            bytes: Number((m.summary as { bytes?: number } | undefined)?.bytes ?? 0),
            manifest: JSON.stringify(m),
          })
          .onConflict((oc) => oc.doNothing())
          .execute();
      }
      out.push({ id, manifest: m });
    }
    return out;
  }

  async count(repository: string): Promise<number> {
    const r = await this.db.selectFrom('snapshot_cache').select((eb) => eb.fn.countAll<number>().as('n')).where('repository', '=', repository).executeTakeFirst();
    return Number(r?.n ?? 0);
  }
}
