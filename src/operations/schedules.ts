import { AppError } from '../kernel/index.js';
import { isEmptyPolicy, parseDuration } from '../engine/index.js';
import { checkTimezone, describeCron, nextRuns, resolveCron, type RetentionRules, type Schedule } from '../jobs/index.js';
import { loadSpecs } from '../app/index.js';
import { audit, needInstance, type Caller, type Env } from './context.js';
import { destinationTarget } from './repositories.js';
import { retentionPolicy } from './retention.js';
import { licenseGate } from './snapshot-create.js';

/**
 * Schedules of the server: add, change, pause, remove, and a cron preview.
 * (Running one is the server's: it submits the schedule's job.)
 */

export type ScheduleView = Schedule & { description: string; nextRuns: string[] };

/** A schedule as every surface shows it: its time in words and its next five runs. */
export function viewSchedule(env: Env, s: Schedule): ScheduleView {
  return { ...s, description: describeCron(s.cron, s.timezone), nextRuns: s.paused ? [] : nextRuns(s.cron, s.timezone, env.clock.now(), 5).map((d) => d.toISOString()) };
}

export interface NewSchedule {
  name: string;
  kind: 'backup' | 'maintenance' | 'drill';
  app?: string | null | undefined;
  destination?: string | null | undefined;
  cron: string;
  timezone: string;
  retention: RetentionRules;
  tags: string[];
  paused?: boolean | undefined;
  maintenance?: { readDataPercent: number; prune: boolean } | undefined;
  /** Drill schedules: how old an application's newest verified data may get (8d, 36h); default twice the interval. */
  objective?: string | undefined;
}

/** A drill objective checked (a duration); anything else has none. */
function checkObjective(kind: NewSchedule['kind'], objective: string | undefined): string | undefined {
  if (!objective) return undefined;
  if (kind !== 'drill') throw new AppError('INVALID_ARGUMENT', 'Only a drill schedule has an objective (how old the newest verified data may get): drop "objective".');
  try {
    parseDuration(objective);
  } catch (err) {
    throw new AppError('INVALID_ARGUMENT', `Objective: ${(err as Error).message}.`);
  }
  return objective;
}

/**
 * Forgetting snapshots (retention) and pruning are admin-only, so an operator's
 * schedule may keep snapshots but never shorten history (docs/SECURITY.md).
 */
async function historyGuard(env: Env, caller: Caller, name: string, prunes: boolean, retention: RetentionRules | undefined): Promise<void> {
  if (caller.role === 'admin') return;
  const forgets = retention !== undefined && !isEmptyPolicy(retentionPolicy(retention));
  if (!forgets && !prunes) return;
  await audit(env, caller, 'schedule.history', name, 'forbidden', { retention: forgets, prune: prunes });
  throw new AppError('FORBIDDEN', `Schedule ${name}: ${forgets ? 'retention rules forget snapshots' : 'pruning deletes data'}, which only an admin may set up; an operator's schedule keeps every snapshot${prunes ? ' (give maintenance.prune: false)' : ''}.`);
}

export async function addSchedule(env: Env, b: NewSchedule, caller: Caller): Promise<ScheduleView> {
  const inst = needInstance(env);
  await historyGuard(env, caller, b.name, b.kind === 'maintenance' ? (b.maintenance?.prune ?? true) : false, b.retention);
  const timezone = checkTimezone(b.timezone);
  const cron = resolveCron(b.cron, timezone);
  // What it will run is checked now: a schedule that can only fail is refused.
  if (b.kind === 'backup') await licenseGate(inst, await loadSpecs(inst, b.app ? [b.app] : undefined), env.clock.now());
  if (b.kind === 'drill' && !isEmptyPolicy(retentionPolicy(b.retention))) throw new AppError('INVALID_ARGUMENT', 'A drill schedule forgets nothing: drop the retention rules (they belong to the schedule that takes the snapshots).');
  if (b.kind === 'maintenance' && b.app) throw new AppError('INVALID_ARGUMENT', 'A maintenance schedule works on a destination, not an application: drop "app".');
  await destinationTarget(inst, b.destination ?? null);
  const objective = checkObjective(b.kind, b.objective);
  const s = await inst.schedules.add(
    { name: b.name, kind: b.kind, app: b.kind !== 'maintenance' ? (b.app ?? null) : null, destination: b.destination ?? null, cron, timezone, retention: b.retention, tags: b.tags, paused: !!b.paused, ...(b.kind === 'maintenance' ? { maintenance: b.maintenance ?? { readDataPercent: 5, prune: true } } : {}), ...(objective ? { objective } : {}) },
    env.clock.now(),
  );
  await audit(env, caller, 'schedule.add', s.name, 'ok', { cron, timezone, app: s.app, kind: s.kind });
  return viewSchedule(env, s);
}

export async function updateSchedule(env: Env, name: string, patch: Partial<Pick<NewSchedule, 'cron' | 'timezone' | 'destination' | 'tags' | 'retention' | 'paused' | 'maintenance' | 'objective'>>, caller: Caller): Promise<ScheduleView> {
  const inst = needInstance(env);
  const cur = await inst.schedules.get(name);
  await historyGuard(env, caller, cur.name, patch.maintenance?.prune ?? false, patch.retention);
  const timezone = patch.timezone ? checkTimezone(patch.timezone) : cur.timezone;
  const next = { ...patch, timezone, ...(patch.cron ? { cron: resolveCron(patch.cron, timezone) } : {}) };
  if (patch.destination !== undefined) await destinationTarget(inst, patch.destination);
  if (patch.objective) checkObjective(cur.kind, patch.objective);
  const s = await inst.schedules.update(cur.id, next as never, env.clock.now());
  await audit(env, caller, 'schedule.update', s.name, 'ok', patch as Record<string, unknown>);
  return viewSchedule(env, s);
}

export async function pauseSchedule(env: Env, name: string, paused: boolean, caller: Caller): Promise<ScheduleView> {
  const inst = needInstance(env);
  const s = await inst.schedules.update((await inst.schedules.get(name)).id, { paused }, env.clock.now());
  await audit(env, caller, paused ? 'schedule.pause' : 'schedule.resume', s.name, 'ok');
  return viewSchedule(env, s);
}

export async function removeSchedule(env: Env, name: string, caller: Caller): Promise<{ removed: string }> {
  const inst = needInstance(env);
  const s = await inst.schedules.get(name);
  await inst.schedules.remove(s.id);
  await audit(env, caller, 'schedule.remove', s.name, 'ok');
  return { removed: s.name };
}

/** A preset or cron expression checked: its canonical form, in words, and its next runs. */
export function previewCron(env: Env, o: { cron: string; timezone: string; count: number }): { cron: string; timezone: string; description: string; nextRuns: string[] } {
  const timezone = checkTimezone(o.timezone);
  const cron = resolveCron(o.cron, timezone);
  return { cron, timezone, description: describeCron(cron, timezone), nextRuns: nextRuns(cron, timezone, env.clock.now(), o.count).map((d) => d.toISOString()) };
}
