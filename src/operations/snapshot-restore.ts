import { AppError } from '../kernel/index.js';
import { restore, type AppRestoreResult, type RestoreResult, type TargetMapping } from '../engine/index.js';
import type { JobOutcome } from '../jobs/index.js';
import type { ApplicationSpec } from '../spec/index.js';
import type { SnapshotRef } from '../tree/index.js';
import { instanceRestorer, loadSpecs, recordMappedTargets, VERSION, type Instance } from '../app/index.js';
import { needInstance, targetOf, type Caller, type Env, type RunContext, type Where } from './context.js';
import type { JobOperation } from './operation.js';
import { resolveSnapshot, withRestoreCodecs, type Target } from './repositories.js';
import { applicationEngine, specLanguage } from './on-demand.js';

export interface RestoreRequest {
  snapshot: string;
  where: Where;
  apps?: string[] | undefined;
  components?: string[] | undefined;
  maps?: TargetMapping[] | undefined;
  /** Spec texts an admin passes for this restore (--spec FILE): trusted like installed ones. */
  specs?: string[] | undefined;
  /** false: do not refuse a files component that needs more than its target has free. */
  spaceCheck?: boolean | undefined;
  dryRun?: boolean | undefined;
  force?: boolean | undefined;
  /** Make the applications use the --map targets from now on (always so when the restore recovers the whole instance). */
  repoint?: boolean | undefined;
}

export interface RestorePlan {
  req: RestoreRequest;
  target: Target;
  ref: SnapshotRef;
  given: ApplicationSpec[];
  apps: string[];
  role: Caller['role'];
}

/** The specs installed on this instance, by name: the only trusted source of targets and commands. */
export async function installedSpecs(inst: Instance): Promise<Map<string, ApplicationSpec>> {
  return new Map((await loadSpecs(inst, undefined)).map((s) => [s.metadata.name, s]));
}

const isWholeFull = (ref: SnapshotRef, req: RestoreRequest) => ref.snapshot.type === 'full' && !req.apps?.length && !req.components?.length;

const problemsOf = (res: AppRestoreResult) => ['preflight found problems; nothing was changed', ...res.plan.flatMap((p) => p.preflight.problems.map((x) => `${p.app}/${p.component}: ${x}`))];

/**
 * Restoring an application or full snapshot: plan → preflight → apply, with
 * targets and commands only from specs trusted here (docs/SECURITY.md). A dry
 * run is its own job kind: it restores nothing, so it is never counted or
 * notified as a restore.
 */
export const restoreSnapshot: JobOperation<RestoreRequest, RestorePlan, AppRestoreResult> = {
  async prepare(env, req, caller) {
    needInstance(env);
    if (req.repoint && caller.role !== 'admin') throw new AppError('FORBIDDEN', 'Only an admin may make an application use other targets (repoint): it changes the application\'s spec.');
    if (req.specs?.length && caller.role !== 'admin') throw new AppError('FORBIDDEN', 'Only an admin may pass a spec for a restore: its commands would run on this machine.');
    const { loadApplication } = await specLanguage();
    const given = (req.specs ?? []).map((text, i) => loadApplication(text, `--spec #${i + 1}`));
    const target = await targetOf(env, req.where);
    // The snapshot is resolved now, so a bad id is refused before a job exists.
    const ref = await env.repos.read(target, (repo) => resolveSnapshot(env.inst, repo, req.snapshot));
    if (!ref.snapshot.applications && ref.snapshot.type !== 'full') throw new AppError('USAGE', `Snapshot ${ref.id.slice(0, 8)} is a snapshot of paths, not of applications: restore it with "strongbox snapshot restore ${ref.id.slice(0, 8)} --target DIR".`);
    // A full restore installs the snapshot's instance state: applications with their commands, destinations, accounts.
    if (caller.role !== 'admin' && !req.dryRun && isWholeFull(ref, req)) {
      throw new AppError('FORBIDDEN', `Restoring the whole of full snapshot ${ref.id.slice(0, 8)} installs its instance state (applications with their commands, destinations): admins only. An operator may restore chosen applications (apps: [...]).`);
    }
    const apps = (ref.snapshot.applications ?? []).map((a) => a.name).filter((a) => !req.apps?.length || req.apps.includes(a));
    return { req, target, ref, given, apps, role: caller.role };
  },

  job: (p) => ({
    kind: p.req.dryRun ? 'restore-dry-run' : 'restore',
    app: p.apps.join(',') || null,
    destination: p.target.name,
    params: { snapshot: p.ref.id, ...restoreParams(p.req), destination: p.target.name },
    exclusive: p.ref.snapshot.type === 'full' && !p.req.apps?.length ? ['*'] : p.apps,
  }),

  async run(env, p, ctx) {
    const inst = needInstance(env);
    const { req } = p;
    const { restoreApplications } = await applicationEngine();
    return env.repos.work(p.target, (repo) =>
      withRestoreCodecs(repo, async (pool) => {
        await repo.loadIndex();
        return restoreApplications({
          repo,
          pool,
          snapshot: p.ref,
          ...(req.apps?.length ? { apps: req.apps } : {}),
          ...(req.components?.length ? { components: req.components } : {}),
          maps: req.maps ?? [],
          dryRun: !!req.dryRun,
          force: !!req.force,
          instance: instanceRestorer(inst),
          installed: await installedSpecs(inst),
          specs: p.given,
          mayRedirectSecrets: p.role === 'admin',
          spaceCheck: req.spaceCheck !== false,
          repoint: !!req.repoint,
          recordTargets: (changes) => recordMappedTargets(inst, changes),
          spoolDir: inst.spoolDir,
          ...(ctx.signal ? { signal: ctx.signal } : {}),
          ...(ctx.sink ? { sink: ctx.sink } : {}),
          strongboxVersion: VERSION,
        });
      }),
    );
  },

  outcome(res): JobOutcome {
    const result = res as unknown as Record<string, unknown>;
    if (res.dryRun) return res.ok ? { phase: 'completed', result } : { phase: 'failed', result, errors: problemsOf(res) };
    if (!res.ok && !res.status) return { phase: 'failed', result, errors: problemsOf(res) };
    return { phase: res.status ?? 'completed', result, errors: res.outcomes.filter((x) => x.error).map((x) => `${x.app}/${x.component}: ${x.error}`) };
  },

  audit: (req, p) => ({
    action: req.dryRun ? 'snapshot.restore-dry-run' : 'snapshot.restore',
    target: p?.ref.id ?? req.snapshot,
    details: { components: req.components ?? null, maps: (req.maps ?? []).map((m) => `${m.component}.${m.field}`) },
  }),
};

/** What a restore job shows of its request (the spec texts are not repeated). */
function restoreParams(req: RestoreRequest): Record<string, unknown> {
  return {
    ...(req.apps ? { apps: req.apps } : {}),
    ...(req.components ? { components: req.components } : {}),
    maps: req.maps ?? [],
    ...(req.specs?.length ? { specs: req.specs.length } : {}),
    ...(req.spaceCheck === false ? { spaceCheck: false } : {}),
    dryRun: !!req.dryRun,
    force: !!req.force,
    ...(req.repoint ? { repoint: true } : {}),
  };
}

export interface FileRestoreRequest {
  snapshot: string;
  where: Where;
  target: string;
  includes: string[];
  keepPrivileges: boolean;
  spaceCheck: boolean;
}

/**
 * Restoring a snapshot's files under a directory of this machine (not through a
 * server: the files land where the command runs) — a snapshot of paths, or the
 * files and dumps of an application or full snapshot, chosen with `includes`.
 */
export async function restoreFiles(env: Env, req: FileRestoreRequest, ctx: RunContext): Promise<RestoreResult & { snapshot: string; target: string }> {
  const t = await targetOf(env, req.where);
  return env.repos.work(t, async (repo) => {
    // Any snapshot's tree restores as files: an application snapshot's components are /APP/COMPONENT/…,
    // a dump one file (e.g. /notes/db/database.pgdump). Nothing runs: no hooks, no tools.
    // The index loads while the snapshot is found: on an object store both are requests.
    const indexed = repo.loadIndex();
    indexed.catch(() => undefined); // awaited below, unless finding the snapshot fails first
    const ref = await resolveSnapshot(env.inst, repo, req.snapshot);
    if (ref.snapshot.type) (await applicationEngine()).checkSnapshotVersion(ref, VERSION);
    await indexed;
    const res = await withRestoreCodecs(repo, (writer) =>
      restore({ repo, writer, snapshot: ref, target: req.target, includes: req.includes, keepPrivileges: req.keepPrivileges, spaceCheck: req.spaceCheck, ...(ctx.signal ? { signal: ctx.signal } : {}), ...(ctx.sink ? { sink: ctx.sink } : {}) }),
    );
    return { snapshot: ref.id, target: req.target, ...res };
  });
}

/** Which kind a snapshot is (so a command can route a restore): "files", "application" or "full". */
export async function snapshotKind(env: Env, where: Where, id: string): Promise<{ id: string; kind: 'files' | 'application' | 'full' }> {
  const t = await targetOf(env, where);
  const ref = await env.repos.read(t, (repo) => resolveSnapshot(env.inst, repo, id));
  return { id: ref.id, kind: ref.snapshot.type ?? 'files' };
}
