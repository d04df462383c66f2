import { randomBytes } from 'node:crypto';
import { hostname, userInfo } from 'node:os';
import { AppError, nullSink, systemClock, throwIfAborted, type ProgressSink } from '../../kernel/index.js';
import type { BlobEncoder, FileChunker, Repository } from '../../repo/index.js';
import { findNode, type AppRecord, type ComponentRecord, type HookRecord, type FullSnapshot, type Snapshot, type SnapshotRef, type SnapshotStatus, type TreeNode } from '../../tree/index.js';
import { runHooks, type Hook } from '../../hooks/index.js';
import { kinds, preloadSecrets, type SourceEnv } from '../../sources/index.js';
import { components, type ApplicationSpec, type HookPhase } from '../../spec/index.js';
import { BackupRun, writeSnapshot } from '../backup/backup.js';
import { RunLog } from './run-log.js';

export const INSTANCE_DIR = '_instance';
/** The repository format version this code writes (docs/FORMAT.md). */
export const FORMAT_VERSION = 1;

export interface AppBackupOptions {
  repo: Repository;
  pipeline: BlobEncoder & FileChunker;
  pipelineSize?: number;
  /** One application (partial snapshot) or all of them (full). */
  apps: ApplicationSpec[];
  type: 'application' | 'full';
  /** Full snapshots: the instance's own state (catalog, key), as files under /_instance. */
  instanceFiles?: { name: string; data: Buffer }[];
  tags?: string[];
  note?: string;
  host?: string;
  /** The schedule that makes this snapshot: its retention later applies to it, and only to its own. */
  schedule?: string;
  /** Earlier snapshots, to find a parent per application (unchanged files are not read again). */
  previous?: SnapshotRef[];
  spoolDir: string;
  signal?: AbortSignal;
  sink?: ProgressSink;
  strongboxVersion: string;
  now?: () => Date;
}

export interface AppBackupResult {
  id: string;
  snapshot: Snapshot;
}

/**
 * Backs up applications into one snapshot: for each application its preBackup
 * hooks, then each component (a directory walked like any backup, or a dump
 * streamed from the field's own tool), then its postBackup hooks, which run
 * whatever happened before them so a quiesced application is always released.
 * A component that fails is recorded with its reason and the others go on
 * (partially_failed); a repository failure or a cancel writes no snapshot.
 */
export async function backupApplications(o: AppBackupOptions): Promise<AppBackupResult> {
  const now = o.now ?? (() => systemClock.now());
  const started = now();
  const t0 = performance.now();
  const sink = o.sink ?? nullSink;
  const runId = randomBytes(8).toString('hex');
  const log = new RunLog(sink, now);
  const run = new BackupRun({ repo: o.repo, pipeline: o.pipeline, paths: [], sink, ...(o.signal ? { signal: o.signal } : {}), ...(o.pipelineSize ? { pipelineSize: o.pipelineSize } : {}) });
  return writeSnapshot(o.repo, run.saver, o.signal, async () => {
    log.line(`${o.type === 'full' ? 'full snapshot' : `snapshot of ${o.apps.map((a) => a.metadata.name).join(', ')}`} (run ${runId}) to ${o.repo.location}`);
    const rootNodes: TreeNode[] = [];
    const records: AppRecord[] = [];
    for (const spec of o.apps) {
      throwIfAborted(o.signal);
      const parent = findParent(o.previous ?? [], spec.metadata.name);
      const { record, node } = await backupOne(o, run, log, spec, runId, parent, now);
      records.push(record);
      if (node) rootNodes.push(node);
    }
    const errors: string[] = [];
    let instance: FullSnapshot['instance'];
    if (o.type === 'full') {
      const nodes: TreeNode[] = [];
      for (const f of o.instanceFiles ?? []) nodes.push((await run.saveStream([f.data], f.name)).node);
      rootNodes.push(run.syntheticDir(INSTANCE_DIR, await run.saveTree(nodes)));
      instance = { path: `/${INSTANCE_DIR}`, files: (o.instanceFiles ?? []).map((f) => f.name) };
      log.line(`instance state saved: ${instance.files.join(', ')}`);
    }
    const tree = await run.saveTree(rootNodes);
    const status = overall(records, o.type);
    log.line(`finished: ${status}`);
    const logIds = await log.save(run, o.repo);
    await run.saver.flush();
    const common = {
      version: 1 as const,
      time: started.toISOString(),
      host: o.host ?? hostname(),
      username: currentUser(),
      paths: records.map((r) => r.path),
      tags: [...new Set(o.tags ?? [])].sort(),
      tree,
      partial: status !== 'completed',
      warnings: run.warnings,
      warningCount: run.warningCount,
      summary: run.summary(Math.round(performance.now() - t0)),
      program: `strongbox ${o.strongboxVersion}`,
      status,
      ...(o.note ? { note: o.note } : {}),
      ...(o.schedule ? { schedule: o.schedule } : {}),
      strongboxVersion: o.strongboxVersion,
      formatVersion: FORMAT_VERSION,
      runId,
      applications: records,
      ...(errors.length ? { errors } : {}),
      log: logIds,
    };
    const snapshot: Snapshot = o.type === 'full' ? { ...common, type: 'full', ...(instance ? { instance } : {}) } : { ...common, type: 'application' };
    return snapshot;
  });
}

function currentUser(): string {
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}

/** An error while reading a component's source (its tool, its stream): fails the component, not the run. */
class SourceFailure extends Error {
  constructor(readonly inner: unknown) {
    super(inner instanceof Error ? inner.message : String(inner));
  }
}

async function* fromSource(stream: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  try {
    for await (const d of stream) yield d as Buffer;
  } catch (err) {
    throw new SourceFailure(err);
  }
}

function overall(records: AppRecord[], type: 'application' | 'full'): SnapshotStatus {
  if (records.length === 0) return type === 'full' ? 'completed' : 'failed';
  if (records.every((r) => r.status === 'completed')) return 'completed';
  if (records.every((r) => r.status === 'failed')) return 'failed';
  return 'partially_failed';
}

/** The latest earlier snapshot that holds this application. */
function findParent(previous: SnapshotRef[], app: string): { ref: SnapshotRef; record: AppRecord } | undefined {
  for (let i = previous.length - 1; i >= 0; i--) {
    const ref = previous[i]!;
    const record = ref.snapshot.applications?.find((a) => a.name === app);
    if (record) return { ref, record };
  }
  return undefined;
}

async function backupOne(
  o: AppBackupOptions,
  run: BackupRun,
  log: RunLog,
  spec: ApplicationSpec,
  runId: string,
  parent: { ref: SnapshotRef; record: AppRecord } | undefined,
  now: () => Date,
): Promise<{ record: AppRecord; node: TreeNode | undefined }> {
  const app = spec.metadata.name;
  const t0 = performance.now();
  const startedAt = now().toISOString();
  const hooks: HookRecord[] = [];
  const errors: string[] = [];
  const env = { STRONGBOX_RUN_ID: runId, STRONGBOX_SNAPSHOT_TYPE: o.type, STRONGBOX_APP_VERSION: spec.metadata.version };
  // Post hooks run even after a cancel: they release what the pre hooks froze.
  const hookRun = async (phase: HookPhase, list: Hook[] | undefined, component?: string, signal = o.signal) => {
    const r = await runHooks(list, { phase, app, ...(component ? { component } : {}), env, ...(signal ? { signal } : {}), log: (l) => log.line(`${app}: ${l}`) });
    hooks.push(...r.results);
    return r.failed;
  };
  log.line(`${app} ${spec.metadata.version}: starting`);
  const comps = components(spec);
  for (const c of comps) preloadSecrets(c.options);
  const records: ComponentRecord[] = [];
  const nodes: TreeNode[] = [];
  let appFailed = false;
  try {
    const pre = await hookRun('preBackup', spec.spec.hooks?.preBackup);
    if (pre) {
      appFailed = true;
      errors.push(`${pre.error}; no component was backed up`);
    } else {
      for (const c of comps) {
        throwIfAborted(o.signal);
        const rec = await backupComponent(o, run, log, app, c, parent, hookRun);
        records.push(rec.record);
        if (rec.node) nodes.push(rec.node);
        if (rec.record.status === 'failed' || rec.record.status === 'partially_failed') errors.push(`component ${c.name}${rec.record.status === 'partially_failed' ? ' (partially captured)' : ''}: ${rec.record.error}`);
      }
    }
  } finally {
    const post = await hookRun('postBackup', spec.spec.hooks?.postBackup, undefined, undefined);
    if (post) errors.push(`${post.error}; the application may still be in its backup state`);
  }
  for (const c of comps) if (!records.some((r) => r.name === c.name)) records.push(skipped(app, c.name, c.kind, startedAt));
  const okCount = records.filter((r) => r.status === 'completed' || r.status === 'partially_failed').length;
  const status: SnapshotStatus = appFailed || okCount === 0 ? 'failed' : errors.length > 0 ? 'partially_failed' : 'completed';
  log.line(`${app}: ${status}${errors.length ? ` (${errors.length} problem(s))` : ''}`);
  const node = nodes.length > 0 ? run.syntheticDir(app, await run.saveTree(nodes)) : undefined;
  const record: AppRecord = {
    name: app,
    version: spec.metadata.version,
    spec,
    status,
    path: `/${app}`,
    components: records,
    hooks,
    errors,
    startedAt,
    durationMs: Math.round(performance.now() - t0),
  };
  return { record, node };
}

function skipped(app: string, name: string, kind: string, startedAt: string): ComponentRecord {
  return { name, kind, source: '', status: 'skipped', path: `/${app}/${name}`, bytes: 0, items: 0, info: {}, newBytes: 0, warnings: 0, startedAt, durationMs: 0 };
}

async function backupComponent(
  o: AppBackupOptions,
  run: BackupRun,
  log: RunLog,
  app: string,
  c: ReturnType<typeof components>[number],
  parent: { ref: SnapshotRef; record: AppRecord } | undefined,
  hookRun: (phase: HookPhase, list: Hook[] | undefined, component?: string, signal?: AbortSignal) => Promise<HookRecord | undefined>,
): Promise<{ record: ComponentRecord; node: TreeNode | undefined }> {
  const kind = kinds[c.kind];
  const opts = c.options as never;
  const t0 = performance.now();
  const startedAt = systemClock.now().toISOString();
  const before = { bytes: run.counters.bytes, files: run.counters.files, newBytes: run.saver.stats.newRawBytes, warnings: run.warningCount };
  const record: ComponentRecord = {
    name: c.name,
    kind: c.kind,
    source: kind.describe(opts),
    status: 'completed',
    path: `/${app}/${c.name}`,
    ...(kind.artifact ? { artifact: kind.artifact } : {}),
    bytes: 0,
    items: 0,
    info: {},
    newBytes: 0,
    warnings: 0,
    startedAt,
    durationMs: 0,
  };
  const senv: SourceEnv = {
    ...(o.signal ? { signal: o.signal } : {}),
    log: (l) => log.line(`${app}/${c.name}: ${l}`),
    spoolDir: o.spoolDir,
    progress: (d) => (o.sink ?? nullSink).emit({ type: 'progress', counters: { ...run.counters, files: run.counters.files + d.items }, current: `${app}/${c.name}` }),
  };
  let node: TreeNode | undefined;
  log.line(`${app}/${c.name}: backing up ${c.kind} ${record.source}`);
  const sink = o.sink ?? nullSink;
  sink.emit({ type: 'component', app, component: c.name, kind: c.kind, state: 'running' });
  try {
    const pre = await hookRun('preBackup', c.hooks?.preBackup, c.name);
    if (pre) throw new SourceFailure(new Error(pre.error ?? 'preBackup hook failed'));
    try {
      if (kind.shape === 'tree') {
        const f = opts as { path: string; exclude?: string[] };
        const prev = parent ? await findNode(o.repo, parent.ref.snapshot.tree, `/${app}/${c.name}`).catch(() => undefined) : undefined;
        const warnBefore = run.warningCount;
        node = await run.saveDirectoryAs(f.path, c.name, f.exclude ?? [], prev?.type === 'dir' ? prev : undefined);
        if (!node) throw new SourceFailure(new Error( run.warnings.slice(warnBefore).map((w) => `${w.path}: ${w.message}`).join('; ') || `${f.path} cannot be read`));
        record.info = { format: 'directory tree' };
      } else if (kind.shape === 'objects') {
        const cap = await kind.capture!(opts, senv).catch((err: unknown) => {
          throw new SourceFailure(err);
        });
        const prev = parent ? await findNode(o.repo, parent.ref.snapshot.tree, `/${app}/${c.name}`).catch(() => undefined) : undefined;
        const warnBefore = run.warningCount;
        node = await run.saveLayout(c.name, cap.files, cap.dirs, prev);
        // What could not be captured (another volume type, an unreadable volume) makes the component partial, never silently incomplete.
        const problems = [...cap.warnings, ...run.warnings.slice(warnBefore).map((w) => `${w.path}: ${w.message}`)];
        record.info = cap.info;
        if (problems.length) {
          record.status = 'partially_failed';
          record.error = problems.length === 1 ? problems[0]! : `${problems.length} problems: ${problems.join('; ')}`;
          record.warnings += cap.warnings.length;
        }
      } else {
        const b = await kind.backup!(opts, senv).catch((err: unknown) => {
          throw new SourceFailure(err);
        });
        // The tool may fail (or be killed by a cancel) while the stream is still being read:
        // its outcome is awaited below, and must never count as an unhandled rejection meanwhile.
        b.done.catch(() => undefined);
        let saved: Awaited<ReturnType<BackupRun['saveStream']>>;
        try {
          saved = await run.saveStream(fromSource(b.stream), kind.artifact ?? 'stream');
        } catch (err) {
          b.stream.destroy();
          const toolError = await b.done.then(
            () => undefined,
            (e: unknown) => e,
          );
          // The tool's own words say more than a broken stream.
          throw err instanceof SourceFailure && toolError ? new SourceFailure(toolError) : err;
        }
        record.info = await b.done.catch((err: unknown) => {
          throw new SourceFailure(err);
        });
        record.sha256 = saved.sha256;
        node = run.syntheticDir(c.name, await run.saveTree([saved.node]));
      }
    } finally {
      const post = await hookRun('postBackup', c.hooks?.postBackup, c.name, undefined);
      if (post) record.warnings++;
    }
  } catch (err) {
    // Storage failures and cancels end the whole run; a source problem fails only this component.
    if (o.signal?.aborted) throw new AppError('CANCELLED', 'Cancelled.', { cause: err });
    if (!(err instanceof SourceFailure) && isRepositoryError(err)) throw err;
    record.status = 'failed';
    const inner = err instanceof SourceFailure ? err.inner : err;
    record.error = inner instanceof Error ? inner.message : String(inner);
    log.line(`${app}/${c.name}: failed: ${record.error}`);
    node = undefined;
  }
  record.bytes = run.counters.bytes - before.bytes;
  record.items = run.counters.files - before.files;
  record.newBytes = run.saver.stats.newRawBytes - before.newBytes;
  record.warnings += run.warningCount - before.warnings;
  record.durationMs = Math.round(performance.now() - t0);
  sink.emit({ type: 'component', app, component: c.name, kind: c.kind, state: record.status === 'skipped' ? 'failed' : record.status, bytes: record.bytes, items: record.items, ...(record.error ? { error: record.error } : {}) });
  if (record.status === 'completed') log.line(`${app}/${c.name}: done, ${record.bytes} bytes, ${record.items} item(s)${record.sha256 ? `, sha256 ${record.sha256.slice(0, 16)}…` : ''}`);
  return { record, node };
}

function isRepositoryError(err: unknown): boolean {
  return !(err instanceof AppError) || ['STORAGE_FULL', 'STORAGE_UNAVAILABLE', 'REPO_LOCKED', 'CORRUPT', 'CANCELLED', 'INTERNAL'].includes(err.code);
}
