import type { JobFilter, JobLogLine, JobRecord, JobStore } from '../jobs/index.js';
import type { Catalog, JobsTable } from './database.js';

/** Job records and their logs in the catalog. */
export class CatalogJobStore implements JobStore {
  constructor(private readonly db: Catalog) {}

  async insert(j: JobRecord): Promise<void> {
    await this.db.insertInto('jobs').values(toRow(j)).execute();
  }

  async update(id: string, patch: Partial<JobRecord>): Promise<void> {
    const row: Partial<JobsTable> = {};
    if (patch.phase !== undefined) row.phase = patch.phase;
    if (patch.progress !== undefined) row.progress = JSON.stringify(patch.progress);
    if (patch.result !== undefined) row.result = patch.result === null ? null : JSON.stringify(patch.result);
    if (patch.warnings !== undefined) row.warnings = JSON.stringify(patch.warnings);
    if (patch.errors !== undefined) row.errors = JSON.stringify(patch.errors);
    if (patch.startedAt !== undefined) row.started_at = patch.startedAt;
    if (patch.finishedAt !== undefined) row.finished_at = patch.finishedAt;
    if (Object.keys(row).length === 0) return;
    await this.db.updateTable('jobs').set(row).where('id', '=', id).execute();
  }

  async get(id: string): Promise<JobRecord | undefined> {
    const r = await this.db.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirst();
    return r ? fromRow(r) : undefined;
  }

  /** By id or a unique prefix of it. */
  async find(idOrPrefix: string): Promise<JobRecord[]> {
    const rows = await this.db.selectFrom('jobs').selectAll().where('id', 'like', `${idOrPrefix.replace(/[%_]/g, '')}%`).limit(2).execute();
    return rows.map(fromRow);
  }

  async list(f: JobFilter = {}): Promise<JobRecord[]> {
    let q = this.db.selectFrom('jobs').selectAll();
    if (f.app) q = q.where('app', '=', f.app);
    if (f.kind) q = q.where('kind', '=', f.kind);
    if (f.phase) q = q.where('phase', '=', f.phase);
    const rows = await q.orderBy('created_at', 'desc').orderBy('id').limit(f.limit ?? 100).execute();
    return rows.map(fromRow);
  }

  async appendLog(id: string, lines: JobLogLine[]): Promise<void> {
    if (lines.length === 0) return;
    await this.db
      .insertInto('job_logs')
      .values(lines.map((l) => ({ job_id: id, seq: l.seq, time: l.time, line: l.line })))
      .onConflict((oc) => oc.doNothing())
      .execute();
  }

  async log(id: string, afterSeq = 0): Promise<JobLogLine[]> {
    return this.db.selectFrom('job_logs').select(['seq', 'time', 'line']).where('job_id', '=', id).where('seq', '>', afterSeq).orderBy('seq').execute();
  }

  async unfinished(): Promise<JobRecord[]> {
    return (await this.db.selectFrom('jobs').selectAll().where('phase', 'in', ['queued', 'running']).execute()).map(fromRow);
  }

  /** Forgets finished jobs (and their logs) created before `before`; returns how many. */
  async pruneFinished(before: string): Promise<number> {
    const old = await this.db.selectFrom('jobs').select('id').where('created_at', '<', before).where('phase', 'not in', ['queued', 'running']).execute();
    if (old.length === 0) return 0;
    const ids = old.map((r) => r.id);
    for (let i = 0; i < ids.length; i += 500) {
      const part = ids.slice(i, i + 500);
      await this.db.deleteFrom('job_logs').where('job_id', 'in', part).execute();
      await this.db.deleteFrom('jobs').where('id', 'in', part).execute();
    }
    return ids.length;
  }

  async counts(): Promise<{ kind: string; phase: string; n: number }[]> {
    const rows = await this.db.selectFrom('jobs').select(['kind', 'phase', (eb) => eb.fn.countAll<number>().as('n')]).groupBy(['kind', 'phase']).execute();
    return rows.map((r) => ({ kind: r.kind, phase: r.phase, n: Number(r.n) }));
  }
}

function toRow(j: JobRecord): JobsTable {
  return {
    id: j.id,
    kind: j.kind,
    app: j.app,
    destination: j.destination,
    phase: j.phase,
    params: JSON.stringify(j.params),
    progress: JSON.stringify(j.progress),
    result: j.result === null ? null : JSON.stringify(j.result),
    warnings: JSON.stringify(j.warnings),
    errors: JSON.stringify(j.errors),
    requested_by: j.requestedBy,
    schedule_id: j.scheduleId,
    created_at: j.createdAt,
    started_at: j.startedAt,
    finished_at: j.finishedAt,
  };
}

function fromRow(r: JobsTable): JobRecord {
  return {
    id: r.id,
    kind: r.kind as JobRecord['kind'],
    app: r.app,
    destination: r.destination,
    phase: r.phase as JobRecord['phase'],
    params: JSON.parse(r.params) as Record<string, unknown>,
    progress: JSON.parse(r.progress) as JobRecord['progress'],
    result: r.result === null ? null : (JSON.parse(r.result) as Record<string, unknown>),
    warnings: JSON.parse(r.warnings) as string[],
    errors: JSON.parse(r.errors) as string[],
    requestedBy: r.requested_by,
    scheduleId: r.schedule_id,
    createdAt: r.created_at,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
  };
}
