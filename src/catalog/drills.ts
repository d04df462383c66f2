import type { Catalog } from './database.js';

/** What the catalog keeps of a drill record: the fields it is found by, and the whole record. */
export interface StoredDrill {
  id: string;
  snapshot: string;
  snapshotTime: string;
  apps: string[];
  status: string;
  startedAt: string;
  finishedAt: string;
  recoveryMs: number;
}

/**
 * The catalog's copy of restore drill records, per repository: what the
 * dashboard, the metrics and the notifications read without opening a
 * repository. The repository holds the sealed originals and is the truth:
 * every listing of a repository's drills is copied here again, so a new
 * instance learns the drill history of a repository it connects to.
 */
export class DrillStore {
  constructor(private readonly db: Catalog) {}

  async put<T extends StoredDrill>(repository: string, records: T[]): Promise<void> {
    for (const r of records) {
      const row = { snapshot: r.snapshot, snapshot_time: r.snapshotTime, apps: r.apps.join(','), status: r.status, started_at: r.startedAt, finished_at: r.finishedAt, recovery_ms: Math.round(r.recoveryMs), record: JSON.stringify(r) };
      await this.db
        .insertInto('drills')
        .values({ repository, id: r.id, ...row })
        .onConflict((oc) => oc.columns(['repository', 'id']).doUpdateSet(row))
        .execute();
    }
  }

  /** Records newest first (of the repositories given, when given). */
  async list<T extends StoredDrill = StoredDrill>(o: { repositories?: string[]; limit?: number } = {}): Promise<(T & { repository: string })[]> {
    let q = this.db.selectFrom('drills').select(['repository', 'record']).orderBy('finished_at', 'desc');
    if (o.repositories) {
      if (o.repositories.length === 0) return [];
      q = q.where('repository', 'in', o.repositories);
    }
    const rows = await q.limit(o.limit ?? 1000).execute();
    return rows.map((r) => ({ ...(JSON.parse(r.record) as T), repository: r.repository }));
  }

  async counts(): Promise<{ status: string; n: number }[]> {
    return (await this.db.selectFrom('drills').select(['status', (eb) => eb.fn.countAll<number>().as('n')]).groupBy('status').execute()).map((r) => ({ status: r.status, n: Number(r.n) }));
  }
}
