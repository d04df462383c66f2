import { AppError, systemClock, throwIfAborted, type Clock, type ProgressSink } from '../../kernel/index.js';
import { backupApplications, check, forget, parseDuration, prune, restoreApplications, type AppBackupResult, type AppRestoreResult, type CheckResult, type ForgetResult, type PruneResult, type RetentionPolicy, type TargetMapping } from '../../engine/index.js';
import type { RetentionRules } from '../../jobs/index.js';
import { checkEntitlement, components, loadApplication, parseLicense, type ApplicationSpec } from '../../spec/index.js';
import type { SnapshotRef } from '../../tree/index.js';
import { instanceRestorer, loadSpecs } from '../instance-state.js';
import type { Instance } from '../instance.js';
import { VERSION } from '../version.js';
import { cachedSnapshots, repositoryPins, resolveSnapshot, withCodecPool, withTarget, type Target } from './repositories.js';

export interface RunContext {
  signal?: AbortSignal;
  sink?: ProgressSink;
}

/**
 * Who asks for a restore: an admin may send a stored credential to a new
 * server or take a password from elsewhere; an operator may not (docs/SECURITY.md).
 * The local CLI runs as the machine's admin.
 */
export interface RestoreCaller {
  role: 'admin' | 'operator' | 'viewer';
}

/**
 * Refuses applications whose vendor requires a license this instance does not
 * have (or has expired): the message names what is missing and the fix.
 */
export async function licenseGate(inst: Instance, specs: ApplicationSpec[], now: Date): Promise<void> {
  const needing = specs.filter((s) => s.spec.license);
  if (needing.length === 0) return;
  const docs = (await inst.licenses.list()).flatMap((l) => {
    try {
      return [parseLicense(l.document)];
    } catch {
      return [];
    }
  });
  const problems: string[] = [];
  for (const s of needing) {
    const v = checkEntitlement({ name: s.metadata.name, publicKey: s.spec.license!.publicKey, ...(s.spec.license!.product ? { product: s.spec.license!.product } : {}) }, docs, now);
    if (!v.ok) problems.push(v.reason);
  }
  if (problems.length) throw new AppError('LICENSE_REQUIRED', `No snapshot was made: ${problems.join('; ')}.`);
}

export interface SnapshotRequest {
  apps?: string[];
  full?: boolean;
  tags?: string[];
  note?: string;
  host?: string;
  /** Set when a schedule makes the snapshot (recorded in its manifest). */
  schedule?: string;
}

/** The components an application snapshot will go through (for a job's progress, before it starts). */
export async function plannedComponents(inst: Instance, req: SnapshotRequest): Promise<{ app: string; component: string; kind: string }[]> {
  const specs = await loadSpecs(inst, req.full ? undefined : req.apps);
  return specs.flatMap((s) => components(s).map((c) => ({ app: s.metadata.name, component: c.name, kind: c.kind })));
}

/** An application (partial) or full snapshot into the target: the one use-case the CLI and the server share. */
export async function snapshotApplications(inst: Instance, target: Target, req: SnapshotRequest, ctx: RunContext & { clock?: Clock } = {}): Promise<AppBackupResult> {
  if (!req.full && !req.apps?.length) throw new AppError('USAGE', 'Say what to snapshot: one or more applications, or a full snapshot.');
  const specs = await loadSpecs(inst, req.full ? undefined : req.apps);
  await licenseGate(inst, specs, ctx.clock?.now() ?? systemClock.now());
  return withTarget(
    target,
    (repo) =>
      withCodecPool(repo, async (pool) => {
        const res = await backupApplications({
          repo,
          pipeline: pool,
          pipelineSize: pool.size,
          apps: specs,
          type: req.full ? 'full' : 'application',
          ...(req.full ? { instanceFiles: await inst.stateFiles() } : {}),
          tags: req.tags ?? [],
          ...(req.note ? { note: req.note } : {}),
          ...(req.host ? { host: req.host } : {}),
          ...(req.schedule ? { schedule: req.schedule } : {}),
          previous: await cachedSnapshots(inst, repo),
          spoolDir: inst.spoolDir,
          ...(ctx.signal ? { signal: ctx.signal } : {}),
          ...(ctx.sink ? { sink: ctx.sink } : {}),
          strongboxVersion: VERSION,
        });
        // The catalog's listing learns the new snapshot now (metrics, dashboards), not at the next listing.
        await cachedSnapshots(inst, repo).catch(() => undefined);
        return res;
      }),
    { loadIndex: true },
  );
}

export interface RestoreRequest {
  snapshot: string;
  apps?: string[] | undefined;
  components?: string[] | undefined;
  maps?: TargetMapping[] | undefined;
  /** Spec texts an admin passes for this restore (--spec FILE): trusted like installed ones. */
  specs?: string[] | undefined;
  /** false: do not refuse a files component that needs more than its target has free. */
  spaceCheck?: boolean | undefined;
  dryRun?: boolean | undefined;
  force?: boolean | undefined;
}

export async function restoreFromSnapshot(inst: Instance, target: Target, req: RestoreRequest, ctx: RunContext & RestoreCaller): Promise<AppRestoreResult> {
  return withTarget(
    target,
    async (repo) => {
      const ref = await resolveSnapshot(inst, repo, req.snapshot);
      return restoreSnapshotRef(inst, repo, ref, req, ctx);
    },
    { loadIndex: true },
  );
}

/** The specs installed on this instance, by name: the only trusted source of targets and commands. */
export async function installedSpecs(inst: Instance): Promise<Map<string, ApplicationSpec>> {
  return new Map((await loadSpecs(inst, undefined)).map((s) => [s.metadata.name, s]));
}

export async function restoreSnapshotRef(inst: Instance, repo: import('../../repo/index.js').Repository, ref: SnapshotRef, req: Omit<RestoreRequest, 'snapshot'>, ctx: RunContext & RestoreCaller): Promise<AppRestoreResult> {
  if (req.specs?.length && ctx.role !== 'admin') throw new AppError('FORBIDDEN', 'Only an admin may pass a spec for a restore: its commands would run on this machine.');
  const given = (req.specs ?? []).map((text, i) => loadApplication(text, `--spec #${i + 1}`));
  const installed = await installedSpecs(inst);
  if (!ref.snapshot.applications && ref.snapshot.type !== 'full') throw new AppError('USAGE', `Snapshot ${ref.id.slice(0, 8)} is a snapshot of paths, not of applications: restore it with "strongbox snapshot restore ${ref.id.slice(0, 8)} --target DIR".`);
  return withCodecPool(repo, async (pool) => {
    await repo.loadIndex();
    return restoreApplications({
      repo,
      pool,
      snapshot: ref,
      ...(req.apps?.length ? { apps: req.apps } : {}),
      ...(req.components?.length ? { components: req.components } : {}),
      maps: req.maps ?? [],
      dryRun: !!req.dryRun,
      force: !!req.force,
      instance: instanceRestorer(inst),
      installed,
      specs: given,
      mayRedirectSecrets: ctx.role === 'admin',
      spaceCheck: req.spaceCheck !== false,
      spoolDir: inst.spoolDir,
      ...(ctx.signal ? { signal: ctx.signal } : {}),
      ...(ctx.sink ? { sink: ctx.sink } : {}),
      strongboxVersion: VERSION,
    });
  });
}

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

/**
 * A schedule's retention over its own snapshots — those whose manifest names
 * it (manual snapshots and other schedules' are never touched) — pinned ones
 * excluded. dryRun shows the result without forgetting anything.
 */
export async function applyScheduleRetention(inst: Instance, target: Target, o: { schedule: string; app: string | null; rules: RetentionRules; dryRun: boolean; now: Date }): Promise<ForgetResult> {
  const policy = retentionPolicy(o.rules);
  return withTarget(target, async (repo) => {
    const pinned = await repositoryPins(inst, repo);
    const res = await forget({
      repo,
      policy,
      dryRun: o.dryRun,
      now: o.now,
      pinned,
      select: (s) => s.snapshot.schedule === o.schedule && (o.app === null ? s.snapshot.type === 'full' : s.snapshot.type === 'application' && s.snapshot.applications?.length === 1 && s.snapshot.applications[0]!.name === o.app),
    });
    if (!o.dryRun && res.removed.length) await cachedSnapshots(inst, repo);
    return res;
  });
}

/** Maintenance: a check that reads back a share of the data, then (optionally) prune; the space reclaimed is in the result. */
export async function runMaintenance(inst: Instance, target: Target, o: { readDataPercent: number; prune: boolean }, ctx: RunContext = {}): Promise<{ check: CheckResult; prune?: PruneResult }> {
  return withTarget(
    target,
    (repo) =>
      withCodecPool(repo, async (pool) => {
        ctx.sink?.emit({ type: 'phase', phase: `checking (reading back ${o.readDataPercent}% of the data)` });
        const c = await check({ repo, decoder: pool, readData: o.readDataPercent >= 100 ? true : o.readDataPercent / 100, ...(ctx.signal ? { signal: ctx.signal } : {}), ...(ctx.sink ? { sink: ctx.sink } : {}) });
        if (!c.ok || !o.prune) return { check: c };
        throwIfAborted(ctx.signal);
        ctx.sink?.emit({ type: 'phase', phase: 'pruning' });
        const p = await prune({ repo, decoder: pool, encoder: pool, ...(ctx.signal ? { signal: ctx.signal } : {}), ...(ctx.sink ? { sink: ctx.sink } : {}) });
        return { check: c, prune: p };
      }),
    { loadIndex: true },
  );
}
