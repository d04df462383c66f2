import { createHash } from 'node:crypto';
import { chmodSync } from 'node:fs';
import { Readable } from 'node:stream';
import { AppError, GarbageBudget, nullSink, throwIfAborted, type ProgressSink } from '../../kernel/index.js';
import type { BlobDecoder, BlobWriter, Repository } from '../../repo/index.js';
import { findNode, type AppRecord, type ComponentRecord, type HookRecord, type SnapshotRef, type SnapshotStatus, type TreeNode } from '../../tree/index.js';
import { runHooks, type Hook } from '../../hooks/index.js';
import { kinds, preloadSecrets, type PreflightReport, type SourceEnv } from '../../sources/index.js';
import { components, type ApplicationSpec, type ComponentSpec, type HookPhase } from '../../spec/index.js';
import { restore } from '../restore/restore.js';
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
  spoolDir: string;
  signal?: AbortSignal;
  sink?: ProgressSink;
  strongboxVersion: string;
}

export interface PlannedComponent {
  app: string;
  component: string;
  kind: string;
  /** Options after mapping (secrets are references only). */
  options: Record<string, unknown>;
  preflight: PreflightReport;
}

export interface ComponentOutcome {
  app: string;
  component: string;
  kind: string;
  target: string;
  status: 'completed' | 'failed' | 'skipped';
  error?: string;
  bytes: number;
  durationMs: number;
}

export interface AppRestoreResult {
  snapshot: string;
  dryRun: boolean;
  plan: PlannedComponent[];
  instancePlan: string[];
  /** Components of the snapshot left out, and why. */
  skipped: { app: string; component: string; reason: string }[];
  ok: boolean;
  status?: SnapshotStatus;
  outcomes: ComponentOutcome[];
  hooks: HookRecord[];
  instanceLog: string[];
  log: string[];
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
  const log = new RunLog(sink, () => new Date());
  const records = snap.applications ?? [];
  const planned = planComponents(o, records);
  for (const p of planned.items) preloadSecrets(p.options);
  const senv = (app: string, c: string): SourceEnv => ({ ...(o.signal ? { signal: o.signal } : {}), log: (l) => log.line(`${app}/${c}: ${l}`), spoolDir: o.spoolDir });
  const result: AppRestoreResult = { snapshot: o.snapshot.id, dryRun: !!o.dryRun, plan: [], instancePlan: [], skipped: planned.skipped, ok: true, outcomes: [], hooks: [], instanceLog: [], log: [] };
  log.line(`restoring snapshot ${o.snapshot.id.slice(0, 8)} (${snap.type}, made by Strongbox ${snap.strongboxVersion ?? '?'} on ${snap.time}) with Strongbox ${o.strongboxVersion}`);

  let instanceFiles: Map<string, Buffer> | undefined;
  if (planned.withInstance && o.instance && snap.instance) {
    instanceFiles = await readInstanceFiles(o.repo, o.snapshot);
    result.instancePlan = await o.instance.plan(instanceFiles);
  }
  for (const p of planned.items) {
    const rec = p.record;
    const report = await kinds[p.spec.kind].preflight(p.options as never, senv(p.app.name, p.spec.name), rec.info, !!o.force);
    p.target = report.target;
    result.plan.push({ app: p.app.name, component: p.spec.name, kind: p.spec.kind, options: p.options, preflight: report });
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
    const spec = items[0]!.app.spec as ApplicationSpec;
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
      const pre = await hookRun('preRestore', spec.spec.hooks?.preRestore);
      if (pre) {
        appOk = false;
        for (const p of items) result.outcomes.push(outcome(p, 'skipped', `${pre.error}; not restored`));
        continue;
      }
      for (const p of items) {
        throwIfAborted(o.signal);
        const out = await restoreComponent(o, p, senv(appName, p.spec.name), hookRun, log);
        result.outcomes.push(out);
        if (out.status !== 'completed') appOk = false;
      }
    } finally {
      const post = await hookRun('postRestore', spec.spec.hooks?.postRestore, undefined, undefined);
      if (post) partial = true;
    }
    if (!appOk) {
      if (items.every((p) => result.outcomes.find((x) => x.app === appName && x.component === p.spec.name)?.status !== 'completed')) failedApps++;
      else partial = true;
    }
  }
  const total = byApp.size;
  result.status = failedApps > 0 && failedApps === total ? 'failed' : failedApps > 0 || partial || result.outcomes.some((x) => x.status !== 'completed') ? 'partially_failed' : 'completed';
  if (total === 0 && !instanceFiles) result.status = 'completed';
  log.line(`restore finished: ${result.status}`);
  result.log = log.text();
  return result;
}

interface PlanItem {
  app: AppRecord;
  spec: ComponentSpec;
  record: ComponentRecord;
  options: Record<string, unknown>;
  /** The target in words, from the preflight. */
  target?: string;
}

function planComponents(o: AppRestoreOptions, records: AppRecord[]): { items: PlanItem[]; skipped: AppRestoreResult['skipped']; withInstance: boolean } {
  const snap = o.snapshot.snapshot;
  const appNames = records.map((r) => r.name);
  for (const a of o.apps ?? []) {
    if (!appNames.includes(a)) throw new AppError('INVALID_ARGUMENT', `Snapshot ${o.snapshot.id.slice(0, 8)} has no application "${a}"; it has: ${appNames.join(', ') || 'none'}.`);
  }
  const chosenApps = records.filter((r) => !o.apps?.length || o.apps.includes(r.name));
  const all = chosenApps.flatMap((app) => components(app.spec as ApplicationSpec).map((spec) => ({ app, spec, record: app.components.find((c) => c.name === spec.name)! })));
  const resolve = (ref: string, what: string) => {
    const [a, c] = ref.includes('/') ? (ref.split('/', 2) as [string, string]) : [undefined, ref];
    const found = all.filter((x) => x.spec.name === c && (a === undefined || x.app.name === a));
    if (found.length === 0) throw new AppError('INVALID_ARGUMENT', `${what} "${ref}": the snapshot has no such component; it has ${all.map((x) => (records.length > 1 ? `${x.app.name}/` : '') + x.spec.name).join(', ')}.`);
    if (found.length > 1) throw new AppError('INVALID_ARGUMENT', `${what} "${ref}" is in several applications (${found.map((x) => x.app.name).join(', ')}); write APP/${c}.`);
    return found[0]!;
  };
  const chosen = o.components?.length ? o.components.map((c) => resolve(c, '--component')) : all;
  const maps = new Map<string, TargetMapping[]>();
  for (const m of o.maps ?? []) {
    const x = resolve(m.component, '--map');
    const key = `${x.app.name}/${x.spec.name}`;
    const kind = kinds[x.spec.kind];
    if (!kind.mappable.includes(m.field)) {
      throw new AppError('INVALID_ARGUMENT', `--map ${m.component}.${m.field}: a ${x.spec.kind} component's target is changed by ${kind.mappable.map((f) => `${m.component}.${f}`).join(', ') || '(nothing: it has no mappable target)'}.`);
    }
    maps.set(key, [...(maps.get(key) ?? []), m]);
  }
  const items: PlanItem[] = [];
  const skipped: AppRestoreResult['skipped'] = [];
  for (const x of chosen) {
    const explicit = !!o.components?.length;
    if (!x.record || x.record.status !== 'completed') {
      const reason = `it was not captured in this snapshot (${x.record?.status ?? 'missing'}${x.record?.error ? `: ${x.record.error}` : ''})`;
      if (explicit) throw new AppError('INVALID_ARGUMENT', `--component ${x.spec.name}: ${reason}.`);
      skipped.push({ app: x.app.name, component: x.spec.name, reason });
      continue;
    }
    let options: Record<string, unknown> = structuredClone(x.spec.options);
    for (const m of maps.get(`${x.app.name}/${x.spec.name}`) ?? []) options = setField(options, m.field, parseMapValue(m.value));
    const parsed = kinds[x.spec.kind].schema.safeParse(options);
    if (!parsed.success) {
      throw new AppError('INVALID_ARGUMENT', `--map for ${x.app.name}/${x.spec.name}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}.`);
    }
    items.push({ app: x.app, spec: x.spec, record: x.record, options: parsed.data as Record<string, unknown> });
  }
  const withInstance = snap.type === 'full' && !o.components?.length && !o.apps?.length;
  return { items, skipped, withInstance };
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
  return { app: p.app.name, component: p.spec.name, kind: p.spec.kind, target: p.target ?? kinds[p.spec.kind].describe(p.options as never), status, ...(error ? { error } : {}), bytes: 0, durationMs: 0 };
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
  const kind = kinds[p.spec.kind];
  log.line(`${p.app.name}/${p.spec.name}: restoring ${p.spec.kind} to ${res.target}`);
  try {
    const pre = await hookRun('preRestore', p.spec.hooks?.preRestore, p.spec.name);
    if (pre) return { ...res, status: 'skipped', error: `${pre.error}; not restored` };
    try {
      const node = await findNode(o.repo, o.snapshot.snapshot.tree, p.record.path);
      if (!node || node.type !== 'dir' || !node.subtree) throw new AppError('CORRUPT', `The snapshot has no data at ${p.record.path}.`);
      if (kind.shape === 'tree') {
        const target = (p.options as { path: string }).path;
        const r = await restore({
          repo: o.repo,
          writer: o.pool,
          snapshot: { id: o.snapshot.id, snapshot: { ...o.snapshot.snapshot, tree: node.subtree } },
          target,
          ...(o.signal ? { signal: o.signal } : {}),
          ...(o.sink ? { sink: o.sink } : {}),
        });
        chmodSync(target, node.mode);
        res.bytes = r.bytes;
        if (r.errors.length > 0) throw new AppError('RESTORE_INCOMPLETE', `${r.errors.length} file(s) could not be restored: ${r.errors.slice(0, 5).map((e) => `${e.path}: ${e.message}`).join('; ')}`);
      } else {
        const file = await findNode(o.repo, o.snapshot.snapshot.tree, `${p.record.path}/${p.record.artifact ?? kind.artifact}`);
        if (!file || file.type !== 'file') throw new AppError('CORRUPT', `The snapshot has no artifact at ${p.record.path}.`);
        const hash = createHash('sha256');
        const input = Readable.from(blobStream(o, file, hash, (n) => (res.bytes += n)), { objectMode: false });
        await kind.restore!(p.options as never, input, senv, p.record.info, !!o.force);
        const digest = hash.digest('hex');
        if (p.record.sha256 && digest !== p.record.sha256) throw new AppError('CORRUPT', `The restored data's SHA-256 ${digest.slice(0, 16)}… differs from the one recorded at backup (${p.record.sha256.slice(0, 16)}…).`);
      }
    } finally {
      await hookRun('postRestore', p.spec.hooks?.postRestore, p.spec.name, undefined);
    }
  } catch (err) {
    if (o.signal?.aborted) throw err;
    const message = err instanceof Error ? err.message : String(err);
    log.line(`${p.app.name}/${p.spec.name}: failed: ${message}`);
    return { ...res, status: 'failed', error: message, durationMs: Math.round(performance.now() - t0) };
  }
  res.durationMs = Math.round(performance.now() - t0);
  log.line(`${p.app.name}/${p.spec.name}: restored ${res.bytes} bytes in ${res.durationMs} ms`);
  return res;
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
