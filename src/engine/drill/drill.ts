import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { Readable } from 'node:stream';
import { join } from 'node:path';
import { AppError, childEnv, formatBytes, nullSink, systemClock, type ProgressSink } from '../../kernel/index.js';
import type { BlobDecoder, BlobWriter, Repository } from '../../repo/index.js';
import type { SnapshotRef } from '../../tree/index.js';
import { kinds, spawnConsumer, sweepDrillLeftovers, type DrillCheck, type DrillTarget, type SourceEnv } from '../../sources/index.js';
import { components as specComponents, meetsExpectation, type ApplicationSpec } from '../../spec/index.js';
import { restoreApplications, snapshotComponents } from '../applications/restore-app.js';
import { RunLog } from '../applications/run-log.js';
import { freeBytes } from '../restore/space.js';
import { restore } from '../restore/restore.js';
import { findNode } from '../../tree/index.js';

/** What the drill needs of a component's restore. */
interface RestoreOutcome {
  component: string;
  status: string;
  error?: string;
  durationMs: number;
  bytes: number;
}

/** One component of a drill: restored into a throwaway target, checked, timed. */
export interface DrillComponent {
  app: string;
  component: string;
  kind: string;
  status: 'passed' | 'failed' | 'skipped';
  /** Why it failed or was not drilled. */
  reason?: string;
  /** The measured restore time (the recovery time of this component). */
  restoreMs: number;
  verifyMs: number;
  bytes: number;
  checks: DrillCheck[];
}

/** A restore drill's record: kept in the catalog and, sealed, in the repository next to the snapshot. */
export interface DrillRecord {
  id: string;
  snapshot: string;
  /** When the snapshot was taken. */
  snapshotTime: string;
  apps: string[];
  status: 'passed' | 'failed';
  startedAt: string;
  finishedAt: string;
  /** The measured recovery time: every component restored, one after the other. */
  recoveryMs: number;
  /** The recovery point: how old the snapshot's data was when the drill ran. */
  recoveryPointSeconds: number;
  components: DrillComponent[];
  strongboxVersion: string;
}

export interface DrillOptions {
  id: string;
  repo: Repository;
  pool: BlobDecoder & BlobWriter;
  snapshot: SnapshotRef;
  /** Only these applications (default: every application in the snapshot). */
  apps?: string[];
  /** The specs installed here: their components' application checks run in the drill (never the snapshot's own spec). */
  installed?: ReadonlyMap<string, ApplicationSpec>;
  /** Where drills keep their throwaway targets; leftovers of earlier drills there are ended first. */
  scratchRoot: string;
  signal?: AbortSignal;
  sink?: ProgressSink;
  strongboxVersion: string;
  now?: () => Date;
  /** The drill's time limit (ms; default 6 hours): past it, what is left is not drilled and the drill fails, saying so. */
  timeoutMs?: number;
  /** Refuse a drill that cannot fit on this machine's disk before anything is made (default true). */
  spaceCheck?: boolean;
}

/** Default time limit of a drill. */
export const DRILL_TIMEOUT_MS = 6 * 3600e3;

/** About what a component takes on disk in a drill: a database restored from a dump is larger than the dump (indexes, WAL) and its server has its own files. */
export function drillSpaceNeeded(components: { kind: string; bytes: number }[]): number {
  let need = 0;
  for (const c of components) {
    if (c.kind === 'postgres' || c.kind === 'mysql') need += 3 * c.bytes + 256 * 1024 * 1024;
    else if (c.kind === 'redis') need += 2 * c.bytes;
    else need += Math.ceil(1.05 * c.bytes);
  }
  return need;
}

/**
 * A restore drill: every chosen component of a snapshot restored into a
 * throwaway target on this machine (a temporary directory, a PostgreSQL or
 * MariaDB server started from the installed binaries, a Redis server started
 * on the restored RDB), checked against what the backup recorded (row and key
 * counts, SQLite's integrity check; every byte of every file read back and
 * verified by the restore itself), timed, and removed — whatever happens.
 * Nothing of the application's own targets is touched and no hook runs: the
 * restore uses a spec made here that points only at the throwaway targets.
 */
export async function drillSnapshot(o: DrillOptions): Promise<DrillRecord> {
  const now = o.now ?? (() => systemClock.now());
  const started = now();
  const sink = o.sink ?? nullSink;
  const log = new RunLog(sink, now);
  const snap = o.snapshot.snapshot;
  if (snap.type !== 'application' && snap.type !== 'full') throw new AppError('INVALID_ARGUMENT', `Snapshot ${o.snapshot.id.slice(0, 8)} is a plain file snapshot; drills restore application and full snapshots.`);
  const records = (snap.applications ?? []).filter((a) => !o.apps?.length || o.apps.includes(a.name));
  for (const a of o.apps ?? []) if (!records.some((r) => r.name === a)) throw new AppError('NOT_FOUND', `Snapshot ${o.snapshot.id.slice(0, 8)} holds no application "${a}" (it has: ${(snap.applications ?? []).map((x) => x.name).join(', ') || 'none'}).`);
  // Names become directories below the drill's scratch directory: a crafted one is refused before anything is made.
  snapshotComponents(o.snapshot, records);
  mkdirSync(o.scratchRoot, { recursive: true, mode: 0o700 });
  for (const d of sweepDrillLeftovers(o.scratchRoot)) log.line(`removed what an earlier drill left: ${d}`);
  if (o.spaceCheck !== false) {
    const drilled = records.flatMap((a) => a.components.filter((c) => c.status === 'completed' || c.status === 'partially_failed').map((c) => ({ kind: c.kind, bytes: c.bytes })));
    const need = drillSpaceNeeded(drilled);
    // Throwaway PostgreSQL data directories are made in the system's temporary directory when running as root.
    for (const dir of new Set([o.scratchRoot, ...(drilled.some((c) => c.kind === 'postgres') ? [tmpdir()] : [])])) {
      const free = freeBytes(dir);
      if (need > free) throw new AppError('STORAGE_FULL', `The drill needs about ${formatBytes(need)} at ${dir} (restored databases take about three times their dump), which has ${formatBytes(free)} free. Free some space, drill fewer applications (--app), or add --no-space-check if you know it fits.`);
    }
  }
  // The drill's own signal: the caller's cancel, or its time limit.
  const ac = new AbortController();
  const limitMs = o.timeoutMs ?? DRILL_TIMEOUT_MS;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    ac.abort(new AppError('CANCELLED', `the drill's time limit (${formatLimit(limitMs)}) ran out`));
  }, limitMs);
  const onCancel = () => ac.abort(o.signal?.reason);
  if (o.signal?.aborted) onCancel();
  o.signal?.addEventListener('abort', onCancel, { once: true });
  const signal = ac.signal;
  const scratch = join(o.scratchRoot, o.id);
  mkdirSync(scratch, { recursive: true, mode: 0o700 });
  const targets: DrillTarget[] = [];
  const components: DrillComponent[] = [];
  log.line(`drill ${o.id}: snapshot ${o.snapshot.id.slice(0, 8)} of ${snap.time} (${records.map((r) => r.name).join(', ')}), into throwaway targets in ${scratch}`);
  try {
    for (const app of records) {
      const spec: ApplicationSpec = { apiVersion: 'strongbox/v1', kind: 'Application', metadata: { name: app.name, version: app.version }, spec: { components: [] } };
      const chosen: { name: string; target: DrillTarget }[] = [];
      const installedSpec = o.installed?.get(app.name);
      for (const c of app.components) {
        const base: DrillComponent = { app: app.name, component: c.name, kind: c.kind, status: 'skipped', restoreMs: 0, verifyMs: 0, bytes: 0, checks: [] };
        const kind = kinds[c.kind as keyof typeof kinds];
        if (c.status !== 'completed' && c.status !== 'partially_failed') {
          components.push({ ...base, reason: `not in the snapshot (${c.status})` });
          continue;
        }
        if (!kind?.drillTarget) {
          components.push({ ...base, reason: `a ${c.kind} component is not drilled yet: restore it by hand to test it` });
          continue;
        }
        const dir = join(scratch, app.name, c.name);
        mkdirSync(dir, { recursive: true });
        const senv: SourceEnv = { ...(signal ? { signal: signal } : {}), log: (l) => log.line(`${app.name}/${c.name}: ${l}`), spoolDir: dir };
        try {
          const own = installedSpec ? specComponents(installedSpec).find((x) => x.name === c.name) : undefined;
          const target = await kind.drillTarget(c.info, dir, senv, own?.kind === c.kind ? (own.options as never) : undefined);
          targets.push(target);
          chosen.push({ name: c.name, target });
          if (!target.asFiles) spec.spec.components.push({ name: c.name, [c.kind]: target.options });
        } catch (err) {
          if (signal?.aborted) throw err;
          components.push({ ...base, status: 'failed', reason: `no throwaway target: ${(err as Error).message}` });
        }
      }
      if (chosen.length === 0) continue;
      const full = snap.type === 'full';
      // Components drilled as plain files (their kind's restore would reach outside this machine).
      const asFiles: RestoreOutcome[] = [];
      for (const x of chosen.filter((c) => c.target.asFiles)) {
        const rec = app.components.find((c) => c.name === x.name)!;
        const t0 = performance.now();
        sink.emit({ type: 'component', app: app.name, component: x.name, kind: rec.kind, state: 'running' });
        try {
          const node = await findNode(o.repo, snap.tree, rec.path);
          if (!node?.subtree) throw new AppError('CORRUPT', `the snapshot has no directory ${rec.path} for the component`);
          const r = await restore({ repo: o.repo, writer: o.pool, snapshot: { id: o.snapshot.id, snapshot: { ...snap, tree: node.subtree } }, target: x.target.asFiles!, spaceCheck: false, signal, sink });
          const ms = Math.round(performance.now() - t0);
          if (r.errors.length) asFiles.push({ component: x.name, status: 'failed', error: `${r.errors.length} file(s) could not be restored: ${r.errors.slice(0, 5).map((e) => `${e.path}: ${e.message}`).join('; ')}`, durationMs: ms, bytes: r.bytes });
          else asFiles.push({ component: x.name, status: 'completed', durationMs: ms, bytes: r.bytes });
        } catch (err) {
          if (signal.aborted) throw err;
          asFiles.push({ component: x.name, status: 'failed', error: (err as Error).message, durationMs: Math.round(performance.now() - t0), bytes: 0 });
        }
      }
      const throughKind = chosen.filter((c) => !c.target.asFiles);
      const restored: { outcomes: RestoreOutcome[] } = throughKind.length === 0 ? { outcomes: [] } : await restoreApplications({
        repo: o.repo,
        pool: o.pool,
        snapshot: o.snapshot,
        ...(full ? { apps: [app.name] } : {}),
        components: throughKind.map((x) => (full ? `${app.name}/${x.name}` : x.name)),
        installed: new Map(),
        specs: [spec],
        mayRedirectSecrets: true,
        spoolDir: scratch,
        ...(signal ? { signal: signal } : {}),
        sink,
        strongboxVersion: o.strongboxVersion,
      }).catch((err: unknown) => {
        if (signal?.aborted) throw err;
        // A refusal of the whole restore (a preflight problem) fails every component of the application, with the reason.
        return { outcomes: throughKind.map((x) => ({ component: x.name, status: 'failed' as const, error: (err as Error).message, durationMs: 0, bytes: 0 })) };
      });
      restored.outcomes.push(...asFiles);
      for (const f of asFiles) sink.emit({ type: 'component', app: app.name, component: f.component, kind: app.components.find((c) => c.name === f.component)!.kind, state: f.status === 'completed' ? 'completed' : 'failed', bytes: f.bytes, ...(f.error ? { error: f.error } : {}) });
      for (const x of chosen) {
        const out = restored.outcomes.find((r) => r.component === x.name);
        const kind = app.components.find((c) => c.name === x.name)!.kind;
        const base: DrillComponent = { app: app.name, component: x.name, kind, status: 'failed', restoreMs: out?.durationMs ?? 0, verifyMs: 0, bytes: out?.bytes ?? 0, checks: [] };
        if (!out || out.status !== 'completed') {
          components.push({ ...base, reason: `the restore failed: ${out?.error ?? 'not restored'}` });
          log.line(`${app.name}/${x.name}: FAILED: ${out?.error ?? 'not restored'}`);
          continue;
        }
        const t0 = performance.now();
        let checks: DrillCheck[];
        try {
          checks = await x.target.verify();
        } catch (err) {
          if (signal?.aborted) throw err;
          checks = [{ name: 'check the restored data', ok: false, actual: (err as Error).message }];
        }
        // The application's own checks, from the spec installed here.
        const installed = o.installed?.get(app.name);
        const own = installed ? specComponents(installed).find((c) => c.name === x.name)?.checks ?? [] : [];
        for (const ch of own) {
          if (ch.command) {
            checks.push(await commandCheck(ch.name, ch.command, ch.timeout, { ...(x.target.connection ?? {}), STRONGBOX_SNAPSHOT_ID: o.snapshot.id, STRONGBOX_SNAPSHOT_TIME: snap.time, STRONGBOX_APP: app.name, STRONGBOX_COMPONENT: x.name }, signal));
            continue;
          }
          const sql = ch.sql!;
          const expect = ch.expect!;
          const label = `${ch.name ?? 'check'}: ${sql} (expect ${expect})`;
          if (!x.target.query) {
            checks.push({ name: label, ok: false, actual: `a ${kind} component cannot run queries` });
            continue;
          }
          try {
            const r = meetsExpectation(expect, await x.target.query(sql), snap.time);
            checks.push({ name: label, ok: r.ok, expected: expect, actual: r.actual });
          } catch (err) {
            if (signal?.aborted) throw err;
            checks.push({ name: label, ok: false, expected: expect, actual: (err as Error).message });
          }
        }
        const bad = checks.filter((c) => !c.ok);
        const result: DrillComponent = { ...base, status: bad.length ? 'failed' : 'passed', verifyMs: Math.round(performance.now() - t0), checks, ...(bad.length ? { reason: bad.map((c) => `${c.name}: expected ${c.expected ?? '?'}, found ${c.actual ?? '?'}`).join('; ') } : {}) };
        components.push(result);
        // The job's progress says what the checks found, not only that the restore went through.
        if (result.status === 'failed') sink.emit({ type: 'component', app: app.name, component: x.name, kind, state: 'failed', bytes: result.bytes, error: `check failed: ${result.reason ?? ''}` });
        log.line(`${app.name}/${x.name}: ${result.status} — restored ${result.bytes} bytes in ${result.restoreMs} ms; ${checks.length} check(s)${result.reason ? `: ${result.reason}` : ''}`);
      }
    }
  } catch (err) {
    // Past the time limit, the drill is failed (and says where it stopped); a cancel by the caller is a cancel.
    if (!timedOut) throw err;
    const done = new Set(components.map((c) => `${c.app}/${c.component}`));
    for (const app of records) {
      for (const c of app.components) {
        if (!done.has(`${app.name}/${c.name}`)) components.push({ app: app.name, component: c.name, kind: c.kind, status: 'failed', reason: `the drill's time limit (${formatLimit(limitMs)}) ran out before this component was drilled to the end`, restoreMs: 0, verifyMs: 0, bytes: 0, checks: [] });
      }
    }
    log.line(`drill ${o.id}: the time limit (${formatLimit(limitMs)}) ran out`);
  } finally {
    clearTimeout(timer);
    o.signal?.removeEventListener('abort', onCancel);
    // Whatever happened: every server stopped, every file removed.
    for (const t of targets) await t.cleanup().catch(() => undefined);
    sweepDrillLeftovers(o.scratchRoot);
  }
  const finished = now();
  const drilled = components.filter((c) => c.status !== 'skipped');
  const status = drilled.length > 0 && drilled.every((c) => c.status === 'passed') ? 'passed' : 'failed';
  log.line(`drill ${o.id}: ${status}`);
  return {
    id: o.id,
    snapshot: o.snapshot.id,
    snapshotTime: snap.time,
    apps: records.map((r) => r.name),
    status,
    startedAt: started.toISOString(),
    finishedAt: finished.toISOString(),
    recoveryMs: drilled.reduce((n, c) => n + c.restoreMs, 0),
    recoveryPointSeconds: Math.max(0, Math.round((started.getTime() - Date.parse(snap.time)) / 1000)),
    components,
    strongboxVersion: o.strongboxVersion,
  };
}

/** An application check that is a command (from the installed spec only): the throwaway target's connection details in its environment; exit status 0 passes. */
async function commandCheck(name: string | undefined, argv: string[], timeout: string | undefined, vars: Record<string, string>, signal: AbortSignal | undefined): Promise<DrillCheck> {
  const label = `${name ?? 'check'}: ${argv.join(' ')}`;
  const ms = timeout ? durationMs(timeout) : 300e3;
  const limit = AbortSignal.timeout(ms);
  const both = signal ? AbortSignal.any([signal, limit]) : limit;
  try {
    const out = await spawnConsumer(argv, childEnv({ ...vars, STRONGBOX_PHASE: 'drill-check' }), Readable.from([]), label, both);
    const said = out.trim().split('\n').filter(Boolean).slice(-1)[0];
    return { name: label, ok: true, expected: 'exit status 0', actual: said ? said.slice(0, 300) : 'exit status 0' };
  } catch (err) {
    if (signal?.aborted) throw err;
    return { name: label, ok: false, expected: 'exit status 0', actual: limit.aborted ? `no answer within ${timeout ?? '5m'}` : (err as Error).message.slice(0, 500) };
  }
}

function durationMs(t: string): number {
  const m = /^(\d+)(ms|s|m|h)$/.exec(t)!;
  return Number(m[1]) * { ms: 1, s: 1e3, m: 60e3, h: 3600e3 }[m[2] as 'ms'];
}

function formatLimit(ms: number): string {
  return ms % 3600e3 === 0 ? `${ms / 3600e3}h` : ms % 60e3 === 0 ? `${ms / 60e3}m` : `${Math.round(ms / 1000)}s`;
}
