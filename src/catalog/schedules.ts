import { randomBytes } from 'node:crypto';
import { AppError } from '../kernel/index.js';
import type { RetentionRules, Schedule, ScheduleSource } from '../jobs/index.js';
import type { Catalog, SchedulesTable } from './database.js';

export type NewSchedule = Pick<Schedule, 'name' | 'kind' | 'app' | 'destination' | 'cron' | 'timezone' | 'retention' | 'tags'> & { paused?: boolean; maintenance?: Schedule['maintenance']; objective?: string | undefined };

/** Schedules in the catalog. */
export class ScheduleStore implements ScheduleSource {
  constructor(private readonly db: Catalog) {}

  async list(): Promise<Schedule[]> {
    return (await this.db.selectFrom('schedules').selectAll().orderBy('name').execute()).map(fromRow);
  }

  async find(nameOrId: string): Promise<Schedule | undefined> {
    const r = await this.db.selectFrom('schedules').selectAll().where((eb) => eb.or([eb('name', '=', nameOrId), eb('id', '=', nameOrId)])).executeTakeFirst();
    return r ? fromRow(r) : undefined;
  }

  async get(nameOrId: string): Promise<Schedule> {
    const s = await this.find(nameOrId);
    if (!s) throw new AppError('NOT_FOUND', `No schedule "${nameOrId}". "strongbox schedule list" shows the schedules.`);
    return s;
  }

  async add(s: NewSchedule, now: Date): Promise<Schedule> {
    if (await this.find(s.name)) throw new AppError('CONFLICT', `A schedule named "${s.name}" exists already; choose another name or change it with "schedule update".`);
    const t = now.toISOString();
    const row: SchedulesTable = {
      id: randomBytes(6).toString('hex'),
      name: s.name,
      kind: s.kind,
      app: s.app,
      destination: s.destination,
      cron: s.cron,
      timezone: s.timezone,
      paused: s.paused ? 1 : 0,
      retention: JSON.stringify(s.retention),
      tags: JSON.stringify(s.tags),
      maintenance: s.maintenance ? JSON.stringify(s.maintenance) : null,
      objective: s.objective ?? null,
      created_at: t,
      updated_at: t,
      last_run_at: null,
      last_job_id: null,
      last_outcome: null,
      skipped: 0,
    };
    await this.db.insertInto('schedules').values(row).execute();
    return fromRow(row);
  }

  async update(id: string, patch: Partial<NewSchedule>, now: Date): Promise<Schedule> {
    const row: Partial<SchedulesTable> = { updated_at: now.toISOString() };
    if (patch.cron !== undefined) row.cron = patch.cron;
    if (patch.timezone !== undefined) row.timezone = patch.timezone;
    if (patch.paused !== undefined) row.paused = patch.paused ? 1 : 0;
    if (patch.retention !== undefined) row.retention = JSON.stringify(patch.retention);
    if (patch.tags !== undefined) row.tags = JSON.stringify(patch.tags);
    if (patch.destination !== undefined) row.destination = patch.destination;
    if (patch.maintenance !== undefined) row.maintenance = patch.maintenance ? JSON.stringify(patch.maintenance) : null;
    if (patch.objective !== undefined) row.objective = patch.objective || null;
    await this.db.updateTable('schedules').set(row).where('id', '=', id).execute();
    return this.get(id);
  }

  async recordRun(id: string, at: string, jobId: string | null, outcome: string, skipped: boolean): Promise<void> {
    await this.db
      .updateTable('schedules')
      .set((eb) => ({ last_run_at: at, last_outcome: outcome, ...(jobId ? { last_job_id: jobId } : {}), skipped: skipped ? eb('skipped', '+', 1) : eb.ref('skipped') }))
      .where('id', '=', id)
      .execute();
  }

  async remove(id: string): Promise<void> {
    await this.db.deleteFrom('schedules').where('id', '=', id).execute();
  }
}

function fromRow(r: SchedulesTable): Schedule {
  return {
    id: r.id,
    name: r.name,
    kind: r.kind as Schedule['kind'],
    app: r.app,
    destination: r.destination,
    cron: r.cron,
    timezone: r.timezone,
    paused: r.paused === 1,
    retention: JSON.parse(r.retention) as RetentionRules,
    tags: JSON.parse(r.tags) as string[],
    ...(r.maintenance ? { maintenance: JSON.parse(r.maintenance) as Schedule['maintenance'] } : {}),
    ...(r.objective ? { objective: r.objective } : {}),
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    lastRunAt: r.last_run_at,
    lastJobId: r.last_job_id,
    lastOutcome: r.last_outcome,
    skipped: r.skipped,
  };
}
