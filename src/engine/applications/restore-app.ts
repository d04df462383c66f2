import { createHash } from 'node:crypto';
import { chmodSync } from 'node:fs';
import { Readable } from 'node:stream';
import { AppError, GarbageBudget, nullSink, systemClock, throwIfAborted, type ProgressSink } from '../../kernel/index.js';
import type { BlobDecoder, BlobWriter, Repository } from '../../repo/index.js';
import { findNode, loadTree, nameBytes, type AppRecord, type ComponentRecord, type HookRecord, type SnapshotRef, type SnapshotStatus, type TreeNode } from '../../tree/index.js';
import { runHooks, type Hook } from '../../hooks/index.js';
import { kinds, preloadSecrets, type PreflightReport, type SourceEnv } from '../../sources/index.js';
import { components, NAME_RE, parseApplication, type ApplicationSpec, type ComponentSpec, type HookPhase } from '../../spec/index.js';
import { componentKinds, type ComponentKindName } from '../../sources/index.js';
import { restore } from '../restore/restore.js';
import { checkFreeSpace } from '../restore/space.js';
import { FORMAT_VERSION, INSTANCE_DIR } from './backup-app.js';
import { RunLog } from './run-log.js';

/** `--map COMPONENT.FIELD=VALUE` (COMPONENT may be APP/COMPONENT in a full snapshot). */
export interface TargetMapping {
  component: string;
  field: string;
  value: string;
}

/** What a full snapshot's instance state restore would do and does (supplied by the app layer). */
export interface InstanceRestorer {
  plan(files: Map<string, Buffer>): Promise<string[]>;
  apply(files: Map<string, Buffer>): Promise<string[]>;
}

export interface AppRestoreOptions {
  repo: Repository;
  pool: BlobDecoder & BlobWriter;
  snapshot: SnapshotRef;
  /** Restore only these applications (full snapshots). */
  apps?: string[];
  /** Restore only these components: NAME or APP/NAME. */
  components?: string[];
  maps?: TargetMapping[];
  dryRun?: boolean;
  force?: boolean;
  instance?: InstanceRestorer;
  /**
   * The specs an admin installed on this instance, by application name: the
   * only source of targets, credentials, hooks and commands (docs/SECURITY.md).
   * A snapshot's own spec is data: it is never run.
   */
  installed: ReadonlyMap<string, ApplicationSpec>;
  /** Specs an admin passed for this restore (--spec FILE); they win over installed ones. */
  specs?: ApplicationSpec[];
  /**
   * Whether the caller may send a stored credential to another server, or take
   * a password from elsewhere (--map C.url to another host, C.passwordFrom.*):
   * admins only. Default false.
   */
  mayRedirectSecrets?: boolean;
  /** Check free space before restoring a files component (default true). */
  spaceCheck?: boolean;
  /**
   * Make the application use the mapped targets from now on (its spec in the
   * catalog is changed), so its next snapshot backs up what was restored. Always
   * done when the restore installs the snapshot's instance state (recovery);
   * otherwise only when asked — a restore into a copy leaves the spec alone.
   */
  repoint?: boolean;
  /** Records mapped targets in the installed specs; returns what it changed, in words. */
  recordTargets?: (changes: TargetChange[]) => Promise<string[]>;
  spoolDir: string;
  signal?: AbortSignal;
  sink?: ProgressSink;
  strongboxVersion: string;
}

/** Where a component's targets, credentials and commands come from. */
export type SpecSource = 'installed' | 'given' | 'restored-instance' | 'untrusted';

/** A command the restore would run (or refuses to run), for the plan and the dry run. */
export interface PlannedCommand {
  app: string;
  component?: string;
  /** preRestore / postRestore hook, check (preflight) or restore (a command component). */
  phase: string;
  command: string;
  /** Where it comes from; only commands from this instance's specs ever run. */
  source: SpecSource;
  willRun: boolean;
}

export interface PlannedComponent {
  app: string;
  component: string;
  kind: string;
  /** Where its target and commands come from. */
  source: SpecSource;
  /** Options after mapping (secrets are references only). */
  options: Record<string, unknown>;
  preflight: PreflightReport;
}

export interface ComponentOutcome {
  app: string;
  component: string;
  kind: string;
  target: string;
  status: 'completed' | 'partially_failed' | 'failed' | 'skipped';
  error?: string;
  bytes: number;
  durationMs: number;
}

export interface AppRestoreResult {
  snapshot: string;
  dryRun: boolean;
  plan: PlannedComponent[];
  /** Every command the restore runs (or, for a snapshot's own spec, does not). */
  commands: PlannedCommand[];
  instancePlan: string[];
  /** Components of the snapshot left out, and why. */
  skipped: { app: string; component: string; reason: string }[];
  ok: boolean;
  status?: SnapshotStatus;
  outcomes: ComponentOutcome[];
  hooks: HookRecord[];
  instanceLog: string[];
  log: string[];
  /** Applications whose snapshot was made with another version than the spec they restore with: both, and what differs. */
  versions: VersionChange[];
}

export interface VersionChange {
  app: string;
  /** The application's version when the snapshot was made. */
  snapshot: string;
  /** The version of the spec the restore uses (installed here, or given). */
  spec: string;
  /** Components added, removed or of another kind, and targets that moved. */
  differences: string[];
  /** Whether the spec has migrate hooks to run after the restore. */
  migrate: boolean;
}

/** Checks the snapshot can be read by this Strongbox; names both versions when it cannot. */
export function checkSnapshotVersion(ref: SnapshotRef, ours: string): void {
  const s = ref.snapshot;
  if (s.type !== 'application' && s.type !== 'full') {
    throw new AppError('INVALID_ARGUMENT', `Snapshot ${ref.id.slice(0, 8)} is a plain file snapshot, not an application snapshot; restore it with "strongbox snapshot restore ${ref.id.slice(0, 8)} --target DIR".`);
  }
  if ((s.formatVersion ?? 1) > FORMAT_VERSION) {
    throw new AppError(
      'UNSUPPORTED_VERSION',
      `Snapshot ${ref.id.slice(0, 8)} was made by Strongbox ${s.strongboxVersion ?? '?'} with snapshot format ${s.formatVersion}; this is Strongbox ${ours}, which reads format ${FORMAT_VERSION} and older. Install Strongbox ${s.strongboxVersion ?? 'of that version'} or newer to restore it.`,
    );
  }
}

/**
 * Restores an application or full snapshot: plans every chosen component
 * (original targets, or new ones by --map), runs every preflight before
 * anything is touched, and refuses (PREFLIGHT_FAILED) with the full list of
 * what is in the way unless --force; a dry run stops after the preflight.
 * Then per application: preRestore hooks, components, postRestore hooks.
 */
export async function restoreApplications(o: AppRestoreOptions): Promise<AppRestoreResult> {
  checkSnapshotVersion(o.snapshot, o.strongboxVersion);
  const snap = o.snapshot.snapshot;
  const sink = o.sink ?? nullSink;
  const log = new RunLog(sink, () => systemClock.now());
  const records = snap.applications ?? [];
  const planned = planRestore(o, records);
  if (planned.refusals.length) {
    // Every refusal at once; a forbidden one decides the code. Nothing was touched.
    const code = planned.refusals.some((r) => r.code === 'FORBIDDEN') ? 'FORBIDDEN' : 'INVALID_ARGUMENT';
    const text = planned.refusals.length === 1 ? planned.refusals[0]!.message : `The restore cannot be done as asked (${planned.refusals.length} problems): ${planned.refusals.map((r) => r.message).join(' ')}`;
    throw new AppError(code, text, { details: { refusals: planned.refusals } });
  }
  for (const p of planned.items) preloadSecrets(p.options);
  const senv = (app: string, c: string): SourceEnv => ({ ...(o.signal ? { signal: o.signal } : {}), log: (l) => log.line(`${app}/${c}: ${l}`), spoolDir: o.spoolDir });
  const result: AppRestoreResult = { snapshot: o.snapshot.id, dryRun: !!o.dryRun, plan: [], commands: planned.commands, instancePlan: [], skipped: planned.skipped, ok: true, outcomes: [], hooks: [], instanceLog: [], log: [], versions: planned.versions };
  log.line(`restoring snapshot ${o.snapshot.id.slice(0, 8)} (${snap.type}, made by Strongbox ${snap.strongboxVersion ?? '?'} on ${snap.time}) with Strongbox ${o.strongboxVersion}`);

  let instanceFiles: Map<string, Buffer> | undefined;
  if (planned.withInstance && o.instance && snap.instance) {
    instanceFiles = await readInstanceFiles(o.repo, o.snapshot);
    result.instancePlan = await o.instance.plan(instanceFiles);
  } else if (snap.type === 'full' && snap.instance) {
    // Said, not skipped silently: a restore of chosen parts of a full snapshot leaves this instance's configuration alone.
    result.instancePlan = ['not restored: this restore takes chosen applications or components; restore the whole snapshot to bring back the instance (applications, destinations, schedules, settings, users)'];
  }
  for (const p of planned.items) {
    const rec = p.record;
    // A component without a trusted target is reported, never probed: its options came from nobody we trust.
    const report: PreflightReport = p.problems.length
      ? { target: '(no target: see the problem)', problems: p.problems, plan: [] }
      : await kinds[p.kind].preflight(p.options as never, senv(p.app.name, p.name), rec.info, !!o.force, kinds[p.kind].shape === 'objects' ? await componentRecords(o.repo, o.snapshot, rec.path) : undefined);
    p.target = report.target;
    if (o.spaceCheck !== false && kinds[p.kind].shape === 'tree' && report.problems.length === 0) {
      try {
        checkFreeSpace((p.options as { path: string }).path, Number(rec.bytes) || 0);
      } catch (err) {
        report.problems.push(`${(err as Error).message.replace(/ Free some space.*$/, '')}: free some space or map it elsewhere`);
      }
    }
    result.plan.push({ app: p.app.name, component: p.name, kind: p.kind, source: p.source, options: p.options, preflight: report });
  }
  result.ok = result.plan.every((p) => p.preflight.problems.length === 0);
  if (o.dryRun) return result;
  if (!result.ok) {
    const lines = result.plan.flatMap((p) => p.preflight.problems.map((x) => `  ${p.app}/${p.component} (${p.preflight.target}): ${x}`));
    throw new AppError('PREFLIGHT_FAILED', `The restore was not started: its preflight found ${lines.length} problem(s):\n${lines.join('\n')}\nNothing was changed.`, { details: { plan: result.plan } });
  }

  if (instanceFiles && o.instance) {
    result.instanceLog = await o.instance.apply(instanceFiles);
    for (const l of result.instanceLog) log.line(`instance: ${l}`);
  }
  let failedApps = 0;
  let partial = false;
  const byApp = new Map<string, typeof planned.items>();
  for (const p of planned.items) byApp.set(p.app.name, [...(byApp.get(p.app.name) ?? []), p]);
  for (const [appName, items] of byApp) {
    throwIfAborted(o.signal);
    // Hooks only from a trusted spec: an untrusted application restores its data and runs nothing.
    const appHooks = items[0]!.appSpec?.spec.hooks;
    const hookRun = async (phase: HookPhase, list: Hook[] | undefined, component?: string, signal = o.signal) => {
      const r = await runHooks(list, {
        phase,
        app: appName,
        ...(component ? { component } : {}),
        env: { STRONGBOX_SNAPSHOT_ID: o.snapshot.id, STRONGBOX_APP_VERSION: items[0]!.app.version },
        ...(signal ? { signal } : {}),
        log: (l) => log.line(`${appName}: ${l}`),
      });
      result.hooks.push(...r.results);
      return r.failed;
    };
    let appOk = true;
    try {
      const pre = await hookRun('preRestore', appHooks?.preRestore);
      if (pre) {
        // Nothing of this application is restored: it counts as failed (not "continue", which would skip the tally below).
        appOk = false;
        for (const p of items) result.outcomes.push(outcome(p, 'skipped', `${pre.error}; not restored`));
      } else {
        for (const p of items) {
          throwIfAborted(o.signal);
          const out = await restoreComponent(o, p, senv(appName, p.name), hookRun, log);
          result.outcomes.push(out);
          if (out.status !== 'completed') appOk = false;
        }
      }
    } finally {
      const post = await hookRun('postRestore', appHooks?.postRestore, undefined, undefined);
      if (post) partial = true;
    }
    // The data is this application's older (or newer) version: the vendor's migrate hooks bring it to the installed one.
    const change = planned.versions.find((v) => v.app === appName);
    if (change && appOk) {
      const env = { STRONGBOX_FROM_VERSION: change.snapshot, STRONGBOX_TO_VERSION: change.spec };
      log.line(`${appName}: restored data of version ${change.snapshot} with spec ${change.spec}${change.migrate ? ': running migrate hooks' : ''}`);
      const lists: [Hook[] | undefined, string | undefined][] = [[appHooks?.migrate, undefined], ...items.map((p): [Hook[] | undefined, string] => [p.spec?.hooks?.migrate, p.name])];
      for (const [list, component] of lists) {
        if (!list?.length) continue;
        const r = await runHooks(list, { phase: 'migrate', app: appName, ...(component ? { component } : {}), env: { STRONGBOX_SNAPSHOT_ID: o.snapshot.id, STRONGBOX_APP_VERSION: change.snapshot, ...env }, ...(o.signal ? { signal: o.signal } : {}), log: (l) => log.line(`${appName}: ${l}`) });
        result.hooks.push(...r.results);
        if (r.failed) partial = true;
      }
    }
    if (!appOk) {
      const restored = (st: string | undefined) => st === 'completed' || st === 'partially_failed';
      if (items.every((p) => !restored(result.outcomes.find((x) => x.app === appName && x.component === p.name)?.status))) failedApps++;
      else partial = true;
    }
  }
  // The application now lives where it was restored: its spec says so (recovery, or when asked).
  const moved = planned.items.filter((p) => p.mapped.length && (o.repoint || p.source === 'restored-instance') && result.outcomes.some((x) => x.app === p.app.name && x.component === p.name && (x.status === 'completed' || x.status === 'partially_failed')));
  if (moved.length && o.recordTargets) {
    const changes = moved.flatMap((p) =>
      p.mapped.map((m) => {
        const as = kinds[p.kind].recordAs?.[m.field];
        return { app: p.app.name, component: p.name, kind: p.kind, field: as ?? m.field, value: as ? p.options[as] : parseMapValue(m.value) };
      }),
    );
    for (const l of await o.recordTargets(changes)) {
      result.instanceLog.push(l);
      log.line(`instance: ${l}`);
    }
  }
  const total = byApp.size;
  result.status = failedApps > 0 && failedApps === total ? 'failed' : failedApps > 0 || partial || result.outcomes.some((x) => x.status !== 'completed') ? 'partially_failed' : 'completed';
  if (total === 0 && !instanceFiles) result.status = 'completed';
  log.line(`restore finished: ${result.status}`);
  result.log = log.text();
  return result;
}

/** A component's target changed by --map, to record in its application's spec. */
export interface TargetChange {
  app: string;
  component: string;
  kind: string;
  field: string;
  value: unknown;
}

interface PlanItem {
  app: AppRecord;
  name: string;
  kind: ComponentKindName;
  /** The trusted component spec (its hooks); absent for an untrusted application. */
  spec?: ComponentSpec;
  /** The trusted application spec (its hooks); absent for an untrusted application. */
  appSpec?: ApplicationSpec;
  source: SpecSource;
  record: ComponentRecord;
  options: Record<string, unknown>;
  /** Why it cannot be restored as asked (no trusted target); reported by the preflight. */
  problems: string[];
  /** The target in words, from the preflight. */
  target?: string;
  /** The --map changes it was given. */
  mapped: TargetMapping[];
}

/** One component of the snapshot as its manifest names it (validated: a manifest is untrusted data). */
export interface SnapshotComponent {
  app: AppRecord;
  name: string;
  kind: ComponentKindName;
  record: ComponentRecord;
}

/**
 * The components of a snapshot's application records, each name checked: names become paths
 * and targets, and a snapshot may have been crafted (docs/SECURITY.md).
 */
export function snapshotComponents(ref: SnapshotRef, apps: AppRecord[]): SnapshotComponent[] {
  const out: SnapshotComponent[] = [];
  for (const app of apps) {
    if (typeof app.name !== 'string' || !NAME_RE.test(app.name)) throw new AppError('CORRUPT', `Snapshot ${ref.id.slice(0, 8)} names an application "${String(app.name).slice(0, 80)}" that is not a valid name; it was not written by Strongbox.`);
    for (const record of Array.isArray(app.components) ? app.components : []) {
      const kind = componentKinds.find((k) => k === record.kind);
      if (!kind || typeof record.name !== 'string' || !NAME_RE.test(record.name)) throw new AppError('CORRUPT', `Snapshot ${ref.id.slice(0, 8)}: application ${app.name} has a component with an unknown kind or an invalid name; it was not written by Strongbox.`);
      out.push({ app, name: record.name, kind, record });
    }
  }
  return out;
}

/**
 * The trusted spec of each application: one passed for this restore, else the
 * installed one, else — only when this restore installs the snapshot's
 * instance state (disaster recovery, shown in the plan) — the snapshot's own.
 */
function trustedSpec(o: PlanInput, app: AppRecord, withInstance: boolean): { spec?: ApplicationSpec; source: SpecSource } {
  const given = o.specs?.find((s) => s.metadata.name === app.name);
  if (given) return { spec: given, source: 'given' };
  const installed = o.installed.get(app.name);
  if (installed) return { spec: installed, source: 'installed' };
  if (withInstance) {
    // The spec this restore installs, as the snapshot recorded it — checked like any spec: a malformed one is data only.
    const r = parseApplication(JSON.stringify(app.spec ?? null));
    if (r.ok && r.spec.metadata.name === app.name) return { spec: r.spec, source: 'restored-instance' };
  }
  return { source: 'untrusted' };
}

/** A request the plan refuses, with the code of the refusal. */
export interface Refusal {
  code: 'INVALID_ARGUMENT' | 'FORBIDDEN';
  message: string;
}

/** What the plan is made from: the request and the trusted specs. */
export type PlanInput = Pick<AppRestoreOptions, 'snapshot' | 'apps' | 'components' | 'maps' | 'installed' | 'specs' | 'mayRedirectSecrets'>;

export interface RestorePlan {
  items: PlanItem[];
  skipped: AppRestoreResult['skipped'];
  withInstance: boolean;
  commands: PlannedCommand[];
  /** What the request asks that cannot be done: every one, not just the first. Nothing runs while there are any. */
  refusals: Refusal[];
  versions: VersionChange[];
}

/**
 * The restore plan, a pure function of the request, the snapshot's records and
 * the trusted specs: which components, with which targets and commands, and
 * every refusal at once (an unknown application or component, a field that
 * cannot be mapped, a target that does not validate, a secret sent elsewhere).
 */
export function planRestore(o: PlanInput, records: AppRecord[]): RestorePlan {
  const refusals: Refusal[] = [];
  const refuse = (code: Refusal['code'], message: string) => void refusals.push({ code, message });
  const snap = o.snapshot.snapshot;
  const withInstance = snap.type === 'full' && !o.components?.length && !o.apps?.length && !!snap.instance;
  const appNames = records.map((r) => r.name);
  for (const a of o.apps ?? []) {
    if (!appNames.includes(a)) refuse('INVALID_ARGUMENT', `Snapshot ${o.snapshot.id.slice(0, 8)} has no application "${a}"; it has: ${appNames.join(', ') || 'none'}.`);
  }
  const chosenApps = records.filter((r) => !o.apps?.length || o.apps.includes(r.name));
  const all = snapshotComponents(o.snapshot, chosenApps);
  const resolve = (ref: string, what: string): SnapshotComponent | undefined => {
    const [a, c] = ref.includes('/') ? (ref.split('/', 2) as [string, string]) : [undefined, ref];
    const found = all.filter((x) => x.name === c && (a === undefined || x.app.name === a));
    if (found.length === 0) refuse('INVALID_ARGUMENT', `${what} "${ref}": the snapshot has no such component; it has ${all.map((x) => (records.length > 1 ? `${x.app.name}/` : '') + x.name).join(', ')}.`);
    else if (found.length > 1) refuse('INVALID_ARGUMENT', `${what} "${ref}" is in several applications (${found.map((x) => x.app.name).join(', ')}); write APP/${c}.`);
    return found.length === 1 ? found[0] : undefined;
  };
  const chosen = o.components?.length ? o.components.flatMap((c) => resolve(c, '--component') ?? []) : all;
  const maps = new Map<string, TargetMapping[]>();
  for (const m of o.maps ?? []) {
    const x = resolve(m.component, '--map');
    if (!x) continue;
    const key = `${x.app.name}/${x.name}`;
    const kind = kinds[x.kind];
    if (!kind.mappable.includes(m.field)) {
      refuse('INVALID_ARGUMENT', `--map ${m.component}.${m.field}: a ${x.kind} component's target is changed by ${kind.mappable.map((f) => `${m.component}.${f}`).join(', ') || '(nothing: it has no mappable target)'}.`);
      continue;
    }
    maps.set(key, [...(maps.get(key) ?? []), m]);
  }
  const trust = new Map(chosenApps.map((a) => [a.name, trustedSpec(o, a, withInstance)]));
  const items: PlanItem[] = [];
  const skipped: AppRestoreResult['skipped'] = [];
  const commands: PlannedCommand[] = [];
  for (const app of chosenApps) commands.push(...appCommands(app, trust.get(app.name)!));
  for (const x of chosen) {
    const explicit = !!o.components?.length;
    if (x.record.status !== 'completed' && x.record.status !== 'partially_failed') {
      const reason = `it was not captured in this snapshot (${x.record.status ?? 'missing'}${x.record.error ? `: ${x.record.error}` : ''})`;
      if (explicit) refuse('INVALID_ARGUMENT', `--component ${x.name}: ${reason}.`);
      else skipped.push({ app: x.app.name, component: x.name, reason });
      continue;
    }
    const t = trust.get(x.app.name)!;
    const mapped = maps.get(`${x.app.name}/${x.name}`) ?? [];
    let spec: ComponentSpec | undefined;
    if (t.spec) {
      spec = components(t.spec).find((c) => c.name === x.name);
      if (!spec || spec.kind !== x.kind) {
        const reason = `the ${t.source === 'given' ? 'given' : 'installed'} spec of ${x.app.name} (${t.spec.metadata.version}) has no ${x.kind} component "${x.name}"${spec ? ` (it is a ${spec.kind} there)` : ''}; restore it with --spec FILE naming a spec that has it`;
        if (explicit) refuse('INVALID_ARGUMENT', `--component ${x.name}: ${reason}.`);
        else skipped.push({ app: x.app.name, component: x.name, reason });
        continue;
      }
    }
    // Trusted options are the spec's; an untrusted application's come from --map only.
    const base: Record<string, unknown> = spec ? structuredClone(spec.options) : {};
    let options = base;
    const kindOf = kinds[x.kind];
    try {
      for (const m of mapped) options = kindOf.map ? (kindOf.map(options as never, m.field, m.value) as Record<string, unknown>) : setField(options, m.field, parseMapValue(m.value));
    } catch (err) {
      refuse('INVALID_ARGUMENT', (err as Error).message);
      continue;
    }
    const item: PlanItem = { app: x.app, name: x.name, kind: x.kind, ...(spec ? { spec } : {}), ...(t.spec ? { appSpec: t.spec } : {}), source: t.source, record: x.record, options, problems: [], mapped };
    if (!spec) {
      if (x.kind === 'command') item.problems.push(`application ${x.app.name} is not installed on this instance, and a command component is restored by a command that only an installed spec may give; install it ("strongbox app add -f SPEC") or pass --spec FILE`);
      else if (mapped.length === 0) item.problems.push(`application ${x.app.name} is not installed on this instance, so the targets in its snapshot are not trusted; give this component a target with --map ${x.name}.${kinds[x.kind].mappable[0]}=…, install the application ("strongbox app add -f SPEC"), or pass --spec FILE`);
    }
    if (item.problems.length === 0) {
      const parsed = kinds[x.kind].schema.safeParse(options);
      if (!parsed.success) {
        const what = parsed.error.issues.map((i) => `${i.path.join('.') || x.kind}: ${i.message}`).join('; ');
        if (spec) {
          refuse('INVALID_ARGUMENT', mapped.length === 0 ? `The spec of ${x.app.name}/${x.name} is not valid: ${what}.` : `--map for ${x.app.name}/${x.name}: ${what}.`);
          continue;
        }
        item.problems.push(`the target given with --map is incomplete: ${what}`);
      } else item.options = parsed.data as Record<string, unknown>;
    }
    if (item.problems.length === 0 && !o.mayRedirectSecrets) {
      const why = redirectsSecret(base, item.options) ?? (spec ? kindOf.redirects?.(base as never, item.options as never) : undefined);
      if (why) {
        refuse('FORBIDDEN', `--map for ${x.app.name}/${x.name}: ${why}; only an admin may do that (docs/SECURITY.md). Map it to another database on the same server, or ask an admin.`);
        continue;
      }
    }
    if (spec) commands.push(...componentCommands(x.app.name, spec, item.options, t.source));
    items.push(item);
  }
  const versions = chosenApps.flatMap((app) => {
    const t = trust.get(app.name)!;
    return t.spec && t.spec.metadata.version !== app.version ? [versionChange(app, t.spec)] : [];
  });
  return { items, skipped, withInstance, commands, refusals, versions };
}

/** What differs between the application as the snapshot recorded it and the spec a restore uses. */
function versionChange(app: AppRecord, spec: ApplicationSpec): VersionChange {
  const now = new Map(components(spec).map((c) => [c.name, c]));
  const then = new Map(app.components.map((c) => [c.name, c]));
  const differences: string[] = [];
  for (const [name, c] of then) {
    const n = now.get(name);
    if (!n) differences.push(`component ${name} (${c.kind}) is not in ${spec.metadata.version}`);
    else if (n.kind !== c.kind) differences.push(`component ${name} is a ${c.kind} in the snapshot, a ${n.kind} in ${spec.metadata.version}`);
    else {
      const where = kinds[n.kind].describe(n.options as never);
      if (where !== c.source) differences.push(`component ${name}: ${c.source} in the snapshot, ${where} in ${spec.metadata.version} (restored there unless --map)`);
    }
  }
  for (const [name, c] of now) if (!then.has(name)) differences.push(`component ${name} (${c.kind}) is new in ${spec.metadata.version}: the snapshot has no data for it`);
  const migrate = !!spec.spec.hooks?.migrate?.length || components(spec).some((c) => !!c.hooks?.migrate?.length);
  return { app: app.name, snapshot: app.version, spec: spec.metadata.version, differences, migrate };
}

/** The credential endpoint of a component's options: where its password would be sent. */
function endpoint(options: Record<string, unknown>): string | undefined {
  if (typeof options.url !== 'string') return undefined;
  try {
    const u = new URL(options.url);
    return `${u.protocol}//${u.username}@${u.hostname}:${u.port}`;
  } catch {
    return options.url;
  }
}

/**
 * Why mapping `before` to `after` would send a stored credential somewhere
 * new or read a password from somewhere new (undefined when it does neither).
 */
export function redirectsSecret(before: Record<string, unknown>, after: Record<string, unknown>): string | undefined {
  const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
  if (!same(before.passwordFrom, after.passwordFrom) && after.passwordFrom !== undefined) return 'it changes where the password comes from';
  if (after.passwordFrom !== undefined && endpoint(before) !== endpoint(after)) return 'it sends the stored password to another server or user';
  return undefined;
}

function describeHook(h: Hook): string {
  return `${h.name}: ${h.exec.join(' ')}`;
}

function appCommands(app: AppRecord, t: { spec?: ApplicationSpec; source: SpecSource }): PlannedCommand[] {
  if (!t.spec) {
    const foreign = app.spec as { spec?: { hooks?: Record<string, unknown>; components?: unknown[] } } | undefined;
    const has = !!foreign?.spec?.hooks || (Array.isArray(foreign?.spec?.components) && JSON.stringify(foreign.spec.components).includes('"hooks"'));
    return has ? [{ app: app.name, phase: 'hooks', command: "the snapshot's own spec (hooks and commands in it are data: not installed here, so never run)", source: 'untrusted', willRun: false }] : [];
  }
  const hooks = t.spec.spec.hooks;
  const migrates = t.spec.metadata.version !== app.version;
  return (['preRestore', 'postRestore', 'migrate'] as const).flatMap((phase) => (hooks?.[phase] ?? []).map((h) => ({ app: app.name, phase, command: describeHook(h as Hook), source: t.source, willRun: phase !== 'migrate' || migrates })));
}

function componentCommands(app: string, spec: ComponentSpec, options: Record<string, unknown>, source: SpecSource): PlannedCommand[] {
  const out: PlannedCommand[] = (['preRestore', 'postRestore'] as const).flatMap((phase) => (spec.hooks?.[phase] ?? []).map((h) => ({ app, component: spec.name, phase, command: describeHook(h as Hook), source, willRun: true })));
  if (spec.kind === 'command') {
    const c = options as { check?: string[]; restore: string[] };
    if (c.check) out.push({ app, component: spec.name, phase: 'check', command: c.check.join(' '), source, willRun: true });
    out.push({ app, component: spec.name, phase: 'restore', command: c.restore.join(' '), source, willRun: true });
  }
  return out;
}

function parseMapValue(v: string): unknown {
  return v === 'true' ? true : v === 'false' ? false : v;
}

function setField(obj: Record<string, unknown>, field: string, value: unknown): Record<string, unknown> {
  const [head, ...rest] = field.split('.');
  if (rest.length === 0) return { ...obj, [head!]: value };
  // passwordFrom.env replaces the whole reference (env or file, not both).
  if (head === 'passwordFrom') return { ...obj, passwordFrom: { [rest.join('.')]: value } };
  return { ...obj, [head!]: setField((obj[head!] as Record<string, unknown>) ?? {}, rest.join('.'), value) };
}

function outcome(p: PlanItem, status: ComponentOutcome['status'], error?: string): ComponentOutcome {
  return { app: p.app.name, component: p.name, kind: p.kind, target: p.target ?? kinds[p.kind].describe(p.options as never), status, ...(error ? { error } : {}), bytes: 0, durationMs: 0 };
}

async function restoreComponent(
  o: AppRestoreOptions,
  p: PlanItem,
  senv: SourceEnv,
  hookRun: (phase: HookPhase, list: Hook[] | undefined, component?: string, signal?: AbortSignal) => Promise<HookRecord | undefined>,
  log: RunLog,
): Promise<ComponentOutcome> {
  const t0 = performance.now();
  const res = outcome(p, 'completed');
  const kind = kinds[p.kind];
  log.line(`${p.app.name}/${p.name}: restoring ${p.kind} to ${res.target}`);
  // Progress per component, as a backup reports it: the job shows bytes and items as they are restored.
  const sink = o.sink ?? nullSink;
  const done = (r: ComponentOutcome, items: number): ComponentOutcome => {
    sink.emit({ type: 'component', app: p.app.name, component: p.name, kind: p.kind, state: r.status, bytes: r.bytes, items, ...(r.error ? { error: r.error } : {}) });
    return r;
  };
  let items = 0;
  sink.emit({ type: 'component', app: p.app.name, component: p.name, kind: p.kind, state: 'running' });
  try {
    const pre = await hookRun('preRestore', p.spec?.hooks?.preRestore, p.name);
    if (pre) return done({ ...res, status: 'skipped', error: `${pre.error}; not restored` }, 0);
    try {
      const node = await findNode(o.repo, o.snapshot.snapshot.tree, p.record.path);
      if (!node || node.type !== 'dir' || !node.subtree) throw new AppError('CORRUPT', `The snapshot has no data at ${p.record.path}.`);
      if (kind.shape === 'objects') {
        const files = await componentRecords(o.repo, o.snapshot, p.record.path);
        const componentTree = node.subtree;
        const report = await kind.restoreObjects!(
          p.options as never,
          {
            files,
            restoreDir: async (from, to) => {
              const sub = await findNode(o.repo, componentTree, `/${from}`);
              if (!sub || sub.type !== 'dir' || !sub.subtree) throw new AppError('CORRUPT', `The snapshot has no data at ${p.record.path}/${from}.`);
              const r = await restore({ repo: o.repo, writer: o.pool, snapshot: { id: o.snapshot.id, snapshot: { ...o.snapshot.snapshot, tree: sub.subtree } }, target: to, spaceCheck: true, ...(o.signal ? { signal: o.signal } : {}) });
              chmodSync(to, sub.mode & 0o1777);
              if (r.errors.length > 0) throw new AppError('RESTORE_INCOMPLETE', `${r.errors.length} file(s) could not be restored: ${r.errors.slice(0, 5).map((e) => `${e.path}: ${e.message}`).join('; ')}`);
              return { bytes: r.bytes, files: r.files };
            },
          },
          { ...senv, progress: (d) => sink.emit({ type: 'progress', counters: { files: d.items, dirs: 0, bytes: d.bytes, newBytes: 0 }, current: `${p.app.name}/${p.name}` }) },
          p.record.info,
          !!o.force,
        );
        res.bytes = report.bytes;
        items = report.items;
        for (const n of report.notes) log.line(`${p.app.name}/${p.name}: ${n}`);
        if (report.failures.length) {
          for (const f of report.failures) log.line(`${p.app.name}/${p.name}: not restored: ${f}`);
          const text = `${report.failures.length} problem(s): ${report.failures.slice(0, 20).join('; ')}${report.failures.length > 20 ? '; …' : ''}`;
          res.durationMs = Math.round(performance.now() - t0);
          return done({ ...res, status: report.items > 0 ? 'partially_failed' : 'failed', error: text }, items);
        }
      } else if (kind.shape === 'tree') {
        const target = (p.options as { path: string }).path;
        const r = await restore({
          repo: o.repo,
          writer: o.pool,
          snapshot: { id: o.snapshot.id, snapshot: { ...o.snapshot.snapshot, tree: node.subtree } },
          target,
          linkBase: p.record.source,
          spaceCheck: false,
          ...(o.signal ? { signal: o.signal } : {}),
          ...(o.sink ? { sink: o.sink } : {}),
        });
        chmodSync(target, node.mode & 0o1777);
        res.bytes = r.bytes;
        items = r.files;
        if (r.errors.length > 0) throw new AppError('RESTORE_INCOMPLETE', `${r.errors.length} file(s) could not be restored: ${r.errors.slice(0, 5).map((e) => `${e.path}: ${e.message}`).join('; ')}`);
      } else {
        const file = await findNode(o.repo, o.snapshot.snapshot.tree, `${p.record.path}/${p.record.artifact ?? kind.artifact}`);
        if (!file || file.type !== 'file') throw new AppError('CORRUPT', `The snapshot has no artifact at ${p.record.path}.`);
        const hash = createHash('sha256');
        let shown = 0;
        const input = Readable.from(
          blobStream(o, file, hash, (n) => {
            res.bytes += n;
            if (res.bytes - shown >= 4 << 20) {
              shown = res.bytes;
              sink.emit({ type: 'progress', counters: { files: 0, dirs: 0, bytes: res.bytes, newBytes: 0 } });
            }
          }),
          { objectMode: false },
        );
        items = 1;
        const artifactPath = `${p.record.path}/${p.record.artifact ?? kind.artifact}`;
        // Damaged data names the file it belongs to, and the pack (from the blob decoder).
        await kind.restore!(p.options as never, input, senv, p.record.info, !!o.force).catch((err: unknown) => {
          if (err instanceof AppError && err.code === 'CORRUPT' && !err.message.includes(artifactPath)) throw new AppError('CORRUPT', `${artifactPath}: ${err.message}`, { cause: err });
          throw err;
        });
        const digest = hash.digest('hex');
        if (p.record.sha256 && digest !== p.record.sha256) throw new AppError('CORRUPT', `The restored data's SHA-256 ${digest.slice(0, 16)}… differs from the one recorded at backup (${p.record.sha256.slice(0, 16)}…).`);
      }
    } finally {
      await hookRun('postRestore', p.spec?.hooks?.postRestore, p.name, undefined);
    }
  } catch (err) {
    if (o.signal?.aborted) throw err;
    const message = err instanceof Error ? err.message : String(err);
    log.line(`${p.app.name}/${p.name}: failed: ${message}`);
    return done({ ...res, status: 'failed', error: message, durationMs: Math.round(performance.now() - t0) }, items);
  }
  res.durationMs = Math.round(performance.now() - t0);
  log.line(`${p.app.name}/${p.name}: restored ${res.bytes} bytes in ${res.durationMs} ms`);
  return done(res, items);
}

/** The file's blobs in order, decoded on the pool with a few read ahead. */
async function* blobStream(o: AppRestoreOptions, file: TreeNode, hash: ReturnType<typeof createHash>, onBytes: (n: number) => void): AsyncGenerator<Buffer> {
  const ids = file.content ?? [];
  const AHEAD = 4;
  // Decoded chunks die as soon as the tool has read them; collecting every 32 MiB keeps the peak lower (177 → 155 MiB restoring a 270 MiB dump).
  const garbage = new GarbageBudget(32 * 1024 * 1024, 'major');
  const fetches: Promise<Buffer>[] = [];
  const fetch = (i: number) =>
    o.repo.readSealedBlob(Buffer.from(ids[i]!, 'hex')).then(({ sealed, loc }) => o.pool.decode(sealed, Buffer.from(ids[i]!, 'hex'), `data blob ${ids[i]!.slice(0, 16)} in pack ${loc.pack.slice(0, 16)}`));
  let next = 0;
  while (next < Math.min(AHEAD, ids.length)) fetches.push(fetch(next++));
  // A queue, not an array indexed by position: a finished chunk must not stay reachable.
  while (fetches.length > 0) {
    throwIfAborted(o.signal);
    const data = await fetches.shift()!;
    if (next < ids.length) fetches.push(fetch(next++));
    hash.update(data);
    onBytes(data.length);
    yield data;
    garbage.spent(2 * data.length);
  }
}

/** An objects component's small files (its manifests and index), by path below the component; its captured directories (volumes/) are not read. */
async function componentRecords(repo: Repository, ref: SnapshotRef, path: string): Promise<Map<string, Buffer>> {
  const node = await findNode(repo, ref.snapshot.tree, path);
  if (!node || node.type !== 'dir' || !node.subtree) throw new AppError('CORRUPT', `The snapshot has no data at ${path}.`);
  const out = new Map<string, Buffer>();
  let total = 0;
  const walk = async (treeId: string, prefix: string): Promise<void> => {
    for (const n of (await loadTree(repo, treeId)).nodes) {
      const name = nameBytes(n).toString('utf8');
      const rel = prefix ? `${prefix}/${name}` : name;
      if (n.type === 'dir' && n.subtree) {
        if (rel !== 'volumes') await walk(n.subtree, rel);
      } else if (n.type === 'file') {
        // A hostile snapshot must not make a restore hold gigabytes of "manifests" in memory.
        total += n.size ?? 0;
        if (total > 512 * 1024 * 1024) throw new AppError('CORRUPT', `The component at ${path} holds more than 512 MiB of manifests; it is not a snapshot Strongbox made.`);
        const parts: Buffer[] = [];
        for (const id of n.content ?? []) parts.push(await repo.loadBlob(Buffer.from(id, 'hex')));
        out.set(rel, Buffer.concat(parts));
      }
    }
  };
  await walk(node.subtree, '');
  return out;
}

async function readInstanceFiles(repo: Repository, ref: SnapshotRef): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  for (const name of ref.snapshot.instance?.files ?? []) {
    const node = await findNode(repo, ref.snapshot.tree, `/${INSTANCE_DIR}/${name}`);
    if (!node || node.type !== 'file') throw new AppError('CORRUPT', `The full snapshot lacks its instance file ${name}.`);
    const parts: Buffer[] = [];
    for (const id of node.content ?? []) parts.push(await repo.loadBlob(Buffer.from(id, 'hex')));
    files.set(name, Buffer.concat(parts));
  }
  return files;
}
