import { forget, isEmptyPolicy, parseDuration, type RetentionDecision, type ForgetResult, type RetentionPolicy } from '../engine/index.js';
import type { RetentionRules, Schedule } from '../jobs/index.js';
import { AppError } from '../kernel/index.js';
import type { Repository } from '../repo/index.js';
import type { Instance } from '../app/index.js';
import { audit, needInstance, targetOf, type Caller, type Env, type Where } from './context.js';
import { cachedSnapshots, repositoryPins } from './repositories.js';

/** Retention rules as the engine's policy (a TTL is keep-within). */
export function retentionPolicy(r: RetentionRules): RetentionPolicy {
  return {
    ...(r.keepLast ? { keepLast: r.keepLast } : {}),
    ...(r.keepHourly ? { keepHourly: r.keepHourly } : {}),
    ...(r.keepDaily ? { keepDaily: r.keepDaily } : {}),
    ...(r.keepWeekly ? { keepWeekly: r.keepWeekly } : {}),
    ...(r.keepMonthly ? { keepMonthly: r.keepMonthly } : {}),
    ...(r.keepYearly ? { keepYearly: r.keepYearly } : {}),
    ...(r.ttl ? { keepWithinMs: parseDuration(r.ttl) } : {}),
  };
}

export function hasRules(r: RetentionRules): boolean {
  return !!(r.ttl || r.keepLast || r.keepHourly || r.keepDaily || r.keepWeekly || r.keepMonthly || r.keepYearly);
}

/**
 * A schedule's retention over its own snapshots — those whose manifest names
 * it (manual snapshots and other schedules' are never touched) — pinned ones
 * excluded. dryRun shows the result without forgetting anything.
 */
export async function applyScheduleRetention(inst: Instance, repo: Repository, o: { schedule: string; app: string | null; rules: RetentionRules; dryRun: boolean; now: Date }): Promise<ForgetResult> {
  const pinned = await repositoryPins(inst, repo);
  const res = await forget({
    repo,
    policy: retentionPolicy(o.rules),
    dryRun: o.dryRun,
    now: o.now,
    pinned,
    select: (s) => s.snapshot.schedule === o.schedule && (o.app === null ? s.snapshot.type === 'full' : s.snapshot.type === 'application' && s.snapshot.applications?.length === 1 && s.snapshot.applications[0]!.name === o.app),
  });
  if (!o.dryRun && res.removed.length) await cachedSnapshots(inst, repo);
  return res;
}

export interface ForgetRequest {
  where: Where;
  policy: RetentionPolicy;
  dryRun: boolean;
}

/**
 * Forget by a retention policy (per host and paths), pinned snapshots kept on
 * every instance; each removal is audited with the policy that removed it.
 */
export async function forgetSnapshots(env: Env, req: ForgetRequest, caller: Caller): Promise<ForgetResult> {
  const target = await targetOf(env, req.where);
  return env.repos.work(target, async (repo) => {
    const pinned = env.inst ? await repositoryPins(env.inst, repo) : undefined;
    const res = await forget({ repo, policy: req.policy, dryRun: req.dryRun, now: env.clock.now(), ...(pinned ? { pinned } : {}) });
    if (!res.dryRun) for (const id of res.removed) await audit(env, caller, 'snapshot.forget', id, 'ok', { reason: 'snapshot forget', policy: req.policy });
    if (!res.dryRun && res.removed.length && env.inst) await cachedSnapshots(env.inst, repo);
    return res;
  });
}

export interface RetentionPreview {
  schedule: string;
  rules: RetentionRules;
  keepsEverything: boolean;
  decisions: RetentionDecision[];
  forget?: string[];
}

/** What a schedule's retention would keep and forget now (a dry run). */
export async function previewScheduleRetention(env: Env, s: Schedule): Promise<RetentionPreview> {
  if (s.kind !== 'backup') throw new AppError('INVALID_ARGUMENT', `Schedule ${s.name} is a maintenance schedule; it has no retention.`);
  if (isEmptyPolicy(retentionPolicy(s.retention))) return { schedule: s.name, rules: s.retention, keepsEverything: true, decisions: [] };
  const inst = needInstance(env);
  const t = await targetOf(env, { destination: s.destination });
  const r = await env.repos.read(t, (repo) => applyScheduleRetention(inst, repo, { schedule: s.name, app: s.app, rules: s.retention, dryRun: true, now: env.clock.now() }));
  return { schedule: s.name, rules: s.retention, keepsEverything: false, decisions: r.groups.flatMap((g) => g.decisions), forget: r.removed };
}
