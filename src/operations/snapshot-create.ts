import { AppError } from '../kernel/index.js';
import type { Repository } from '../repo/index.js';
import type { AppBackupResult } from '../engine/index.js';
import type { JobOutcome, Schedule } from '../jobs/index.js';
import { checkEntitlement, parseLicense } from '../spec/license.js';
import type { ApplicationSpec } from '../spec/index.js';
import { loadSpecs, VERSION, type Instance } from '../app/index.js';
import { audit, needInstance, targetOf, type Env, type Where } from './context.js';
import type { JobOperation } from './operation.js';
import { cachedSnapshots, withCodecPool, type Target } from './repositories.js';
import { applyScheduleRetention, hasRules } from './retention.js';
import { applicationEngine, specLanguage } from './on-demand.js';

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
  apps?: string[] | undefined;
  full?: boolean | undefined;
  tags?: string[] | undefined;
  note?: string | undefined;
  host?: string | undefined;
  where: Where;
  /** The schedule that makes it: named in the manifest, and its retention applied after. */
  schedule?: Schedule | undefined;
}

export interface SnapshotPlan {
  req: SnapshotRequest;
  specs: ApplicationSpec[];
  target: Target;
  components: { app: string; component: string; kind: string }[];
}

export interface SnapshotOutcome extends AppBackupResult {
  /** A schedule's retention after the snapshot: what it forgot, or why it failed. */
  retention?: { removed: string[]; kept: string[] } | { error: string };
}

/** An application (partial) or full snapshot. */
export const createSnapshot: JobOperation<SnapshotRequest, SnapshotPlan, SnapshotOutcome> = {
  async prepare(env, req) {
    const inst = needInstance(env);
    if (!req.full && !req.apps?.length) throw new AppError('USAGE', 'Say what to snapshot: one or more applications, or a full snapshot.');
    const specs = await loadSpecs(inst, req.full ? undefined : req.apps);
    await licenseGate(inst, specs, env.clock.now());
    const target = await targetOf(env, req.where);
    const { components } = await specLanguage();
    return { req, specs, target, components: specs.flatMap((s) => components(s).map((c) => ({ app: s.metadata.name, component: c.name, kind: c.kind }))) };
  },

  job: (p) => ({
    kind: 'backup',
    app: p.req.full ? null : (p.req.apps ?? []).join(','),
    destination: p.target.name,
    params: { ...(p.req.full ? { full: true } : { apps: p.req.apps }), tags: p.req.tags ?? [], ...(p.req.note ? { note: p.req.note } : {}), destination: p.target.name },
    scheduleId: p.req.schedule?.id ?? null,
    exclusive: p.req.full ? ['*'] : (p.req.apps ?? []),
    components: p.components,
  }),

  async run(env, p, ctx) {
    const inst = needInstance(env);
    const { req } = p;
    const res: SnapshotOutcome = await env.repos.work(p.target, async (repo) => {
      await repo.loadIndex();
      const { backupApplications } = await applicationEngine();
      return withCodecPool(repo, async (pool) => {
        const r = await backupApplications({
          repo,
          pipeline: pool,
          pipelineSize: pool.size,
          apps: p.specs,
          type: req.full ? 'full' : 'application',
          ...(req.full ? { instanceFiles: await inst.stateFiles() } : {}),
          tags: req.tags ?? [],
          ...(req.note ? { note: req.note } : {}),
          ...(req.host ? { host: req.host } : {}),
          ...(req.schedule ? { schedule: req.schedule.name } : {}),
          previous: await cachedSnapshots(inst, repo),
          spoolDir: inst.spoolDir,
          ...(ctx.signal ? { signal: ctx.signal } : {}),
          ...(ctx.sink ? { sink: ctx.sink } : {}),
          strongboxVersion: VERSION,
          now: () => env.clock.now(),
        });
        // The catalog's listing learns the new snapshot now (metrics, dashboards), not at the next listing.
        await cachedSnapshots(inst, repo).catch(() => undefined);
        const s = req.schedule;
        const out: SnapshotOutcome = r;
        if (s && r.snapshot.status !== 'failed' && hasRules(s.retention)) out.retention = await scheduleRetention(env, repo, p.target, s, ctx.log);
        return out;
      });
    });
    return res;
  },

  outcome(res, p): JobOutcome {
    const m = res.snapshot;
    const result: Record<string, unknown> = { snapshot: res.id, status: m.status, bytes: m.summary.bytes, newBytes: m.summary.newBytes, storedBytes: m.summary.storedBytes, durationMs: m.summary.durationMs, destination: p.target.name };
    const errors = (m.applications ?? []).flatMap((a) => [...a.components.filter((c) => c.error).map((c) => `${a.name}/${c.name}: ${c.error}`), ...a.errors.filter((e) => !e.startsWith('component ')).map((e) => `${a.name}: ${e}`)]);
    if (res.retention) {
      if ('error' in res.retention) return { phase: 'partially_failed', result, errors: [...errors, `retention: ${res.retention.error}`] };
      result.retention = res.retention;
    }
    return { phase: m.status ?? 'completed', result, errors, warnings: m.warnings.map((w) => `${w.path ? `${w.path}: ` : ''}${w.message}`) };
  },

  audit: (req, p) => ({ action: 'snapshot.create', target: req.full ? 'full' : (req.apps ?? []).join(','), details: p ? { destination: p.target.name } : {} }),
};

/** A schedule's retention after its snapshot; every removal is audited with who (the schedule) and why (its rules). */
async function scheduleRetention(env: Env, repo: Repository, target: Target, s: Schedule, log?: (line: string) => void): Promise<NonNullable<SnapshotOutcome['retention']>> {
  const inst = needInstance(env);
  try {
    const r = await applyScheduleRetention(inst, repo, { schedule: s.name, app: s.app, rules: s.retention, dryRun: false, now: env.clock.now() });
    log?.(`retention of schedule ${s.name}: forgot ${r.removed.length} snapshot(s)${r.removed.length ? `: ${r.removed.map((x) => x.slice(0, 8)).join(', ')}` : ''}`);
    for (const id of r.removed) await audit(env, { actor: `schedule ${s.name}`, role: 'admin', ip: null }, 'snapshot.forget', id, 'ok', { reason: 'retention', rules: s.retention, destination: target.name });
    return { removed: r.removed, kept: r.groups.flatMap((g) => g.decisions.filter((d) => d.keep).map((d) => d.id)) };
  } catch (err) {
    log?.(`retention of schedule ${s.name} failed: ${(err as Error).message}`);
    return { error: (err as Error).message };
  }
}
