import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { parseDuration, type DrillRecord } from '../engine/index.js';
import { sweepDrillLeftovers } from '../sources/throwaway.js';
import type { JobOutcome, Schedule } from '../jobs/index.js';
import { VERSION } from '../app/index.js';
import { listSnapshots, type SnapshotRef } from '../tree/index.js';
import { AppError } from '../kernel/index.js';
import { needInstance, targetOf, type Env, type Where } from './context.js';
import { applicationEngine } from './on-demand.js';
import type { JobOperation } from './operation.js';
import { installedSpecs } from './snapshot-restore.js';
import { resolveSnapshot, withRestoreCodecs, type Target } from './repositories.js';

export interface DrillRequest {
  where: Where;
  /** The snapshot to drill (id, prefix or "latest"); default: the latest of the application, or the latest application or full snapshot. */
  snapshot?: string | undefined;
  apps?: string[] | undefined;
  schedule?: Schedule | undefined;
  /** The drill's time limit, as written (2h, 90min); default 6 hours. */
  timeout?: string | undefined;
  /** Refuse a drill that does not fit on this machine's disk (default true). */
  spaceCheck?: boolean | undefined;
}

export interface DrillPlan {
  req: DrillRequest;
  target: Target;
  ref: SnapshotRef;
  apps: string[];
  id: string;
}

/** The newest application or full snapshot (holding `app` when given). */
function latestWith(refs: SnapshotRef[], app: string | undefined): SnapshotRef | undefined {
  return [...refs].reverse().find((r) => (r.snapshot.type === 'application' || r.snapshot.type === 'full') && r.snapshot.status !== 'failed' && (!app || r.snapshot.applications?.some((a) => a.name === app)));
}

/**
 * A restore drill as a job: the snapshot restored into throwaway targets on
 * this machine, checked and timed (engine/drill); its record is kept in the
 * repository, next to the snapshot, where every instance with the key sees it.
 * One drill at a time on an instance.
 */
export const runDrill: JobOperation<DrillRequest, DrillPlan, DrillRecord> = {
  async prepare(env, req) {
    needInstance(env);
    const target = await targetOf(env, req.where);
    const ref = await env.repos.read(target, async (repo) => {
      if (req.snapshot) return resolveSnapshot(env.inst, repo, req.snapshot);
      const found = latestWith(await listSnapshots(repo), req.apps?.[0]);
      if (!found) {
        throw new AppError('NOT_FOUND', `No application or full snapshot${req.apps?.length ? ` of ${req.apps.join(', ')}` : ''} in destination ${target.name} to drill; take one first ("strongbox snapshot create --app NAME").`);
      }
      return found;
    });
    if (req.timeout) {
      try {
        parseDuration(req.timeout);
      } catch (err) {
        throw new AppError('INVALID_ARGUMENT', `Timeout: ${(err as Error).message}.`);
      }
    }
    const apps = (ref.snapshot.applications ?? []).map((a) => a.name).filter((a) => !req.apps?.length || req.apps.includes(a));
    return { req, target, ref, apps, id: randomBytes(6).toString('hex') };
  },
  job: (p) => ({ kind: 'drill', app: p.apps.join(',') || null, components: (p.ref.snapshot.applications ?? []).filter((a) => p.apps.includes(a.name)).flatMap((a) => a.components.map((c) => ({ app: a.name, component: c.name, kind: c.kind }))), destination: p.target.name, params: { snapshot: p.ref.id, drill: p.id, destination: p.target.name, ...(p.req.apps?.length ? { apps: p.req.apps } : {}) }, scheduleId: p.req.schedule?.id ?? null, exclusive: ['#drill'] }),
  async run(env, p, ctx) {
    const inst = needInstance(env);
    const installed = await installedSpecs(inst);
    const { drillSnapshot } = await applicationEngine();
    return env.repos.work(p.target, async (repo) => {
      await repo.loadIndex();
      const record = await withRestoreCodecs(repo, (pool) =>
        drillSnapshot({
          id: p.id,
          repo,
          pool,
          snapshot: p.ref,
          ...(p.req.apps?.length ? { apps: p.req.apps } : {}),
          installed,
          scratchRoot: drillsRoot(inst.home),
          ...(ctx.signal ? { signal: ctx.signal } : {}),
          ...(ctx.sink ? { sink: ctx.sink } : {}),
          strongboxVersion: VERSION,
          now: () => env.clock.now(),
          ...(p.req.timeout ? { timeoutMs: parseDuration(p.req.timeout) } : {}),
          ...(p.req.spaceCheck === false ? { spaceCheck: false } : {}),
        }),
      );
      await repo.recordDrill(p.id, record);
      await inst.drills.put(p.target.location, [record]);
      return record;
    });
  },
  outcome(r): JobOutcome {
    const result = r as unknown as Record<string, unknown>;
    if (r.status === 'passed') return { phase: 'completed', result };
    return { phase: 'failed', result, errors: r.components.filter((c) => c.status === 'failed').map((c) => `${c.app}/${c.component}: ${c.reason ?? 'failed'}`) };
  },
  audit: (req, p) => ({ action: 'drill.run', target: p?.ref.id ?? req.snapshot ?? null, details: { apps: p?.apps ?? req.apps ?? [] } }),
};

/** Ends what drills interrupted by a crash or SIGKILL left (servers, files): on every start of the server. */
export function sweepDrills(home: string): string[] {
  return sweepDrillLeftovers(drillsRoot(home));
}

/** Where drills keep their throwaway targets: under the instance home, so leftovers are found again. */
export function drillsRoot(home: string): string {
  return path.join(home, 'drills');
}

/** Drill records in a destination's repository, newest first (of one snapshot when given). */
export async function listDrills(env: Env, where: Where, snapshot?: string): Promise<DrillRecord[]> {
  const target = await targetOf(env, where);
  return env.repos.read(target, async (repo) => {
    const id = snapshot ? (await resolveSnapshot(env.inst, repo, snapshot)).id : undefined;
    const all = ((await repo.listDrills(id)) as DrillRecord[]).filter(isDrillRecord).sort((a, b) => b.startedAt.localeCompare(a.startedAt));
    // The repository is the truth: what it holds is copied to the catalog (a new instance learns the history here).
    if (env.inst) await env.inst.drills.put(target.location, all);
    return all;
  });
}

/** A record as a drill writes it (a repository may hold anything: what is not one is left out). */
function isDrillRecord(d: unknown): d is DrillRecord {
  const r = d as Partial<DrillRecord> | null;
  return (
    typeof r === 'object' && r !== null && typeof r.id === 'string' && typeof r.snapshot === 'string' && typeof r.snapshotTime === 'string' && Array.isArray(r.apps) && r.apps.every((a) => typeof a === 'string') &&
    (r.status === 'passed' || r.status === 'failed') && typeof r.startedAt === 'string' && typeof r.finishedAt === 'string' && typeof r.recoveryMs === 'number' && Array.isArray(r.components)
  );
}
