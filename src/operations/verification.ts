import { parseDuration, type DrillRecord } from '../engine/index.js';
import { intervalMs, type Schedule } from '../jobs/index.js';
import { needInstance, type Env } from './context.js';

/** Per application: what restore drills have proven, and whether that is recent enough (docs/DRILLS.md). */
export interface AppVerification {
  app: string;
  /** The newest snapshot of the application a drill proved restorable (null: never verified). */
  verified: { snapshot: string; snapshotTime: string; drill: string; at: string; recoveryMs: number; repository: string } | null;
  /** How old that snapshot's data is now, in seconds (null: never verified). */
  ageSeconds: number | null;
  /** How old it may get: the drill schedule's objective (null: no drill schedule covers the application). */
  objectiveSeconds: number | null;
  /** The drill schedule that sets the objective. */
  schedule: string | null;
  /** The newest verified data is older than the objective (or, never verified, the schedule is older than it). */
  overdue: boolean;
  /** The newest drill of the application, whatever its outcome. */
  lastDrill: { id: string; status: 'passed' | 'failed'; at: string; snapshot: string } | null;
}

type Drill = Pick<DrillRecord, 'id' | 'snapshot' | 'snapshotTime' | 'apps' | 'status' | 'finishedAt' | 'recoveryMs'> & { repository: string };

/** A drill schedule's objective in ms: as written, or twice its interval. */
export function objectiveMs(s: Pick<Schedule, 'objective' | 'cron' | 'timezone'>, now: Date): number {
  return s.objective ? parseDuration(s.objective) : 2 * intervalMs(s.cron, s.timezone, now);
}

/**
 * Pure: each application's verification status, from the drill records, the
 * drill schedules and the time. An application's objective is the smallest of
 * the running drill schedules that cover it (its own, or one of every application).
 */
export function verificationOf(apps: string[], drills: Drill[], schedules: Schedule[], now: Date): AppVerification[] {
  const t = now.getTime();
  return apps.map((app) => {
    const mine = drills.filter((d) => d.apps.includes(app));
    const last = [...mine].sort((a, b) => b.finishedAt.localeCompare(a.finishedAt))[0];
    const best = mine.filter((d) => d.status === 'passed').sort((a, b) => b.snapshotTime.localeCompare(a.snapshotTime) || b.finishedAt.localeCompare(a.finishedAt))[0];
    let objective: { ms: number; schedule: Schedule } | undefined;
    for (const s of schedules) {
      if (s.kind !== 'drill' || s.paused || (s.app !== null && s.app !== app)) continue;
      const ms = objectiveMs(s, now);
      if (ms > 0 && (!objective || ms < objective.ms)) objective = { ms, schedule: s };
    }
    const ageMs = best ? Math.max(0, t - Date.parse(best.snapshotTime)) : null;
    const overdue = objective ? (ageMs !== null ? ageMs > objective.ms : t - Date.parse(objective.schedule.createdAt) > objective.ms) : false;
    return {
      app,
      verified: best ? { snapshot: best.snapshot, snapshotTime: best.snapshotTime, drill: best.id, at: best.finishedAt, recoveryMs: best.recoveryMs, repository: best.repository } : null,
      ageSeconds: ageMs === null ? null : Math.round(ageMs / 1000),
      objectiveSeconds: objective ? Math.round(objective.ms / 1000) : null,
      schedule: objective?.schedule.name ?? null,
      overdue,
      lastDrill: last ? { id: last.id, status: last.status, at: last.finishedAt, snapshot: last.snapshot } : null,
    };
  });
}

/** Every application's verification status, from the catalog's copy of the drill records. */
export async function verificationStatus(env: Env): Promise<AppVerification[]> {
  const inst = needInstance(env);
  const [apps, drills, schedules] = await Promise.all([inst.applications.list(), inst.drills.list<DrillRecord>(), inst.schedules.list()]);
  return verificationOf(
    apps.map((a) => a.name),
    drills,
    schedules,
    env.clock.now(),
  );
}
