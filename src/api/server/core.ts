import { mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { AppError, systemClock, type Clock } from '../../kernel/index.js';
import { JobRunner, Scheduler, type FireResult, type JobOutcome, type JobRecord, type Schedule } from '../../jobs/index.js';
import { copySnapshots } from '../../engine/index.js';
import {
  applyScheduleRetention,
  cachedSnapshots,
  codecPool,
  destinationTarget,
  downloadSnapshot,
  licenseGate,
  loadSpecs,
  openRepository,
  plannedComponents,
  resolveSnapshot,
  restoreFromSnapshot,
  runMaintenance,
  snapshotApplications,
  uploadArchive,
  withTarget,
  type Instance,
  type Target,
  type RestoreCaller,
  type RestoreRequest,
  type SnapshotRequest,
} from '../../app/index.js';
import type { Repository } from '../../repo/index.js';
import { Notifier } from './notify.js';

export interface CoreOptions {
  inst: Instance;
  log: Logger;
  clock?: Clock;
  /** Jobs that may run at once (default 2). */
  concurrency?: number;
  /** Days finished job records and their logs are kept (default 90). */
  jobRetentionDays?: number;
  /** Scheduler tick (ms). */
  tickMs?: number;
}

/** Repositories the server keeps open between requests (opening one derives its key: slow on purpose). */
export class OpenRepositories {
  private open = new Map<string, Promise<Repository>>();

  async use<T>(t: Target, fn: (repo: Repository) => Promise<T>): Promise<T> {
    const key = `${t.name ?? ''}\u0000${t.location}`;
    let p = this.open.get(key);
    if (!p) {
      p = openRepository(t.location, t.password, { loadIndex: false, ...(t.credentials ? { credentials: t.credentials } : {}) });
      this.open.set(key, p);
      p.catch(() => this.open.delete(key));
    }
    return fn(await p);
  }

  async close(): Promise<void> {
    for (const p of this.open.values()) await p.then((r) => r.close()).catch(() => undefined);
    this.open.clear();
  }
}

/**
 * The server's working parts around one instance: the job runner, the
 * scheduler and notifications. Routes call these; so does the scheduler.
 */
export class ServerCore {
  readonly inst: Instance;
  readonly runner: JobRunner;
  readonly scheduler: Scheduler;
  readonly notifier: Notifier;
  readonly clock: Clock;
  readonly log: Logger;
  readonly downloadsDir: string;
  readonly uploadsDir: string;
  readonly startedAt: Date;
  readonly repos = new OpenRepositories();
  private readonly jobRetentionDays: number;
  private sweeper: NodeJS.Timeout | undefined;

  constructor(o: CoreOptions) {
    this.inst = o.inst;
    this.log = o.log;
    this.clock = o.clock ?? systemClock;
    this.startedAt = this.clock.now();
    this.jobRetentionDays = o.jobRetentionDays ?? 90;
    this.runner = new JobRunner(o.inst.jobs, { concurrency: o.concurrency ?? 2, clock: this.clock });
    this.scheduler = new Scheduler(o.inst.schedules, (s, at) => this.fireSchedule(s, at), this.clock, o.tickMs ?? 1000);
    this.notifier = new Notifier(o.inst, o.log);
    this.downloadsDir = join(o.inst.spoolDir, 'downloads');
    this.uploadsDir = join(o.inst.spoolDir, 'uploads');
    mkdirSync(this.downloadsDir, { recursive: true, mode: 0o700 });
    mkdirSync(this.uploadsDir, { recursive: true, mode: 0o700 });
    this.runner.onFinished((job) => {
      this.log.info({ job: job.id, kind: job.kind, app: job.app, phase: job.phase, errors: job.errors.slice(0, 3) }, `job ${job.id} ${job.kind}${job.app ? ` ${job.app}` : ''}: ${job.phase}`);
      void this.notifier.jobFinished(job).catch((err: unknown) => this.log.warn({ err }, 'notification failed'));
    });
  }

  async start(): Promise<void> {
    const left = await this.runner.recover();
    for (const j of left) this.log.warn({ job: j.id }, `job ${j.id} (${j.kind}) was ${j.phase} when the server stopped: marked failed`);
    await this.sweep();
    this.sweeper = setInterval(() => void this.sweep(), 3600e3);
    this.sweeper.unref();
    this.scheduler.start();
  }

  async stop(): Promise<void> {
    this.scheduler.stop();
    if (this.sweeper) clearInterval(this.sweeper);
    await this.runner.shutdown();
    await this.notifier.idle();
    await this.repos.close();
  }

  /** Downloads are kept a day, leftovers of interrupted uploads an hour, finished job records --job-retention days. */
  private async sweep(): Promise<void> {
    const now = this.clock.now().getTime();
    const before = new Date(this.clock.now().getTime() - this.jobRetentionDays * 86400e3).toISOString();
    const forgotten = await this.inst.jobs.pruneFinished(before).catch(() => 0);
    if (forgotten) this.log.info(`forgot ${forgotten} job record(s) older than ${this.jobRetentionDays} days`);
    for (const f of safeList(this.downloadsDir)) {
      const p = join(this.downloadsDir, f);
      if (now - statSync(p).mtimeMs > 24 * 3600e3) rmSync(p, { force: true });
    }
    for (const f of safeList(this.uploadsDir)) {
      const p = join(this.uploadsDir, f);
      if (now - statSync(p).mtimeMs > 3600e3) rmSync(p, { force: true });
    }
  }

  /** Refuses early (before a job exists) what cannot run: unknown apps, a missing license, no destination. */
  async checkSnapshotRequest(req: SnapshotRequest & { destination?: string | null }): Promise<Target> {
    const specs = await loadSpecs(this.inst, req.full ? undefined : req.apps);
    await licenseGate(this.inst, specs, this.clock.now());
    return destinationTarget(this.inst, req.destination ?? null);
  }

  async submitSnapshot(req: SnapshotRequest & { destination?: string | null }, by: string, schedule?: Schedule): Promise<JobRecord> {
    const dest = (await this.checkSnapshotRequest(req)).name;
    return this.runner.submit(
      {
        kind: 'backup',
        app: req.full ? null : (req.apps ?? []).join(','),
        destination: dest,
        params: { ...req },
        requestedBy: by,
        scheduleId: schedule?.id ?? null,
        exclusive: req.full ? ['*'] : (req.apps ?? []),
        components: await plannedComponents(this.inst, req),
      },
      async (ctx): Promise<JobOutcome> => {
        const target = await destinationTarget(this.inst, dest);
        const res = await snapshotApplications(this.inst, target, { ...req, ...(schedule ? { schedule: schedule.name } : {}) }, { signal: ctx.signal, sink: ctx.sink, clock: this.clock });
        const m = res.snapshot;
        const result: Record<string, unknown> = { snapshot: res.id, status: m.status, bytes: m.summary.bytes, newBytes: m.summary.newBytes, storedBytes: m.summary.storedBytes, durationMs: m.summary.durationMs, destination: target.name };
        const errors = (m.applications ?? []).flatMap((a) => [...a.components.filter((c) => c.error).map((c) => `${a.name}/${c.name}: ${c.error}`), ...a.errors.filter((e) => !e.startsWith('component ')).map((e) => `${a.name}: ${e}`)]);
        if (schedule && m.status !== 'failed' && hasRules(schedule)) {
          try {
            const r = await applyScheduleRetention(this.inst, target, { schedule: schedule.name, app: schedule.app, rules: schedule.retention, dryRun: false, now: this.clock.now() });
            result.retention = { removed: r.removed, kept: r.groups.flatMap((g) => g.decisions.filter((d) => d.keep).map((d) => d.id)) };
            ctx.log(`retention of schedule ${schedule.name}: forgot ${r.removed.length} snapshot(s)${r.removed.length ? `: ${r.removed.map((x) => x.slice(0, 8)).join(', ')}` : ''}`);
            // Every removal is in the audit log, with who (the schedule) and why (its rules).
            for (const id of r.removed) await this.audit(`schedule ${schedule.name}`, 'snapshot.forget', id, null, 'ok', { reason: 'retention', rules: schedule.retention, destination: dest });
          } catch (err) {
            ctx.log(`retention of schedule ${schedule.name} failed: ${(err as Error).message}`);
            errors.push(`retention: ${(err as Error).message}`);
            return { phase: 'partially_failed', result, errors };
          }
        }
        return { phase: m.status ?? 'completed', result, errors, warnings: m.warnings.map((w) => `${w.path ? `${w.path}: ` : ''}${w.message}`) };
      },
    );
  }

  async submitRestore(snapshot: string, req: Omit<RestoreRequest, 'snapshot'> & { destination?: string | null }, by: string, role: RestoreCaller['role']): Promise<JobRecord> {
    const target = await destinationTarget(this.inst, req.destination ?? null);
    const dest = target.name;
    // The snapshot is resolved now, so a bad id is refused before a job exists.
    const ref = await withTarget(target, (repo) => resolveSnapshot(this.inst, repo, snapshot));
    // A full restore installs the snapshot's instance state: applications with their commands, destinations, accounts.
    if (role !== 'admin' && !req.dryRun && ref.snapshot.type === 'full' && !req.apps?.length && !req.components?.length) {
      throw new AppError('FORBIDDEN', `Restoring the whole of full snapshot ${ref.id.slice(0, 8)} installs its instance state (applications with their commands, destinations): admins only. An operator may restore chosen applications (apps: [...]).`);
    }
    const apps = (ref.snapshot.applications ?? []).map((a) => a.name).filter((a) => !req.apps?.length || req.apps.includes(a));
    return this.runner.submit(
      // A dry run is its own kind: it restores nothing, so it is never counted or notified as a restore.
      { kind: req.dryRun ? 'restore-dry-run' : 'restore', app: apps.join(',') || null, destination: dest, params: { snapshot: ref.id, ...req }, requestedBy: by, exclusive: ref.snapshot.type === 'full' && !req.apps?.length ? ['*'] : apps },
      async (ctx): Promise<JobOutcome> => {
        const res = await restoreFromSnapshot(this.inst, target, { ...req, snapshot: ref.id }, { signal: ctx.signal, sink: ctx.sink, role });
        const result = res as unknown as Record<string, unknown>;
        if (res.dryRun) return res.ok ? { phase: 'completed', result } : { phase: 'failed', result, errors: ['preflight found problems; nothing was changed', ...res.plan.flatMap((p) => p.preflight.problems.map((x) => `${p.app}/${p.component}: ${x}`))] };
        if (!res.ok && !res.status) return { phase: 'failed', result, errors: ['preflight found problems; nothing was changed', ...res.plan.flatMap((p) => p.preflight.problems.map((x) => `${p.app}/${p.component}: ${x}`))] };
        return { phase: res.status ?? 'completed', result, errors: res.outcomes.filter((x) => x.error).map((x) => `${x.app}/${x.component}: ${x.error}`) };
      },
    );
  }

  async submitDownload(snapshot: string, password: string, destination: string | null, by: string): Promise<JobRecord> {
    const target = await destinationTarget(this.inst, destination);
    const ref = await withTarget(target, (repo) => resolveSnapshot(this.inst, repo, snapshot));
    return this.runner.submit({ kind: 'download', app: (ref.snapshot.applications ?? []).map((a) => a.name).join(',') || null, destination: target.name, params: { snapshot: ref.id, download: true }, requestedBy: by }, async (ctx) => {
      const file = join(this.downloadsDir, `${ctx.id}.sbx`);
      const repo = await openRepository(target.location, target.password, { loadIndex: true, ...(target.credentials ? { credentials: target.credentials } : {}) });
      const pool = codecPool(repo);
      try {
        const r = await downloadSnapshot({ source: repo, sourcePool: pool, snapshot: ref, file, password, sink: ctx.sink, signal: ctx.signal });
        return { phase: 'completed', result: { snapshot: ref.id, archiveBytes: r.bytes, artifact: `/api/jobs/${ctx.id}/artifact`, fileName: `strongbox-${ref.id.slice(0, 8)}.sbx` } };
      } finally {
        await pool.close();
        await repo.close();
      }
    });
  }

  async submitUpload(file: string, password: string, destination: string | null, by: string): Promise<JobRecord> {
    const target = await destinationTarget(this.inst, destination);
    return this.runner.submit({ kind: 'upload', destination: target.name, params: { bytes: statSync(file).size }, requestedBy: by }, async (ctx) => {
      try {
        const repo = await openRepository(target.location, target.password, { loadIndex: true, ...(target.credentials ? { credentials: target.credentials } : {}) });
        const pool = codecPool(repo);
        try {
          let r: Awaited<ReturnType<typeof uploadArchive>>;
          try {
            r = await uploadArchive({ file, password, target: repo, targetPool: pool, sink: ctx.sink, signal: ctx.signal, now: this.clock.now() });
          } catch (err) {
            // The spool file's name means nothing to the uploader.
            if (err instanceof AppError) throw new AppError(err.code, err.message.split(file).join('The uploaded archive'), { cause: err });
            throw err;
          }
          return { phase: 'completed', result: { snapshots: r.copied.map((c) => c.target), skipped: r.skipped.map((c) => c.target), verifiedBytes: r.verifiedBytes } };
        } finally {
          await pool.close();
          await repo.close();
        }
      } finally {
        rmSync(file, { force: true });
      }
    });
  }

  /** Replication: snapshots (one, or all with "all") to another destination of this instance; re-runs copy nothing. */
  async submitCopy(snapshot: string, o: { from: string | null; to: string }, by: string): Promise<JobRecord> {
    const source = await destinationTarget(this.inst, o.from);
    const target = await destinationTarget(this.inst, o.to);
    if (source.location === target.location) throw new AppError('INVALID_ARGUMENT', `The snapshot is in ${target.name} already: copy to another destination.`);
    const refs = await withTarget(source, async (repo) => (snapshot === 'all' ? await cachedSnapshots(this.inst, repo) : [await resolveSnapshot(this.inst, repo, snapshot)]));
    return this.runner.submit({ kind: 'copy', destination: target.name, params: { snapshots: refs.map((r) => r.id), from: source.name, to: target.name }, requestedBy: by, exclusive: [`copy:${target.name}`] }, async (ctx) => {
      const src = await openRepository(source.location, source.password, { loadIndex: true, ...(source.credentials ? { credentials: source.credentials } : {}) });
      const dst = await openRepository(target.location, target.password, { loadIndex: true, ...(target.credentials ? { credentials: target.credentials } : {}) });
      const srcPool = codecPool(src);
      const dstPool = codecPool(dst);
      try {
        const r = await copySnapshots({ source: src, target: dst, decoder: srcPool, encoder: dstPool, snapshots: refs, sink: ctx.sink, signal: ctx.signal });
        await cachedSnapshots(this.inst, dst).catch(() => undefined);
        ctx.log(`copied ${r.copied.length} snapshot(s) to ${target.name}, ${r.skipped.length} there already; sent ${r.storedBytesSent} bytes`);
        return { phase: 'completed', result: { copied: r.copied, skipped: r.skipped, bytesSent: r.bytesSent, storedBytesSent: r.storedBytesSent } };
      } finally {
        await srcPool.close();
        await dstPool.close();
        await src.close();
        await dst.close();
      }
    });
  }

  async submitMaintenance(o: { destination: string | null; readDataPercent: number; prune: boolean }, by: string, schedule?: Schedule): Promise<JobRecord> {
    const target = await destinationTarget(this.inst, o.destination);
    return this.runner.submit({ kind: o.prune ? 'prune' : 'check', destination: target.name, params: { ...o }, requestedBy: by, scheduleId: schedule?.id ?? null, exclusive: ['*'] }, async (ctx) => {
      const r = await runMaintenance(this.inst, target, { readDataPercent: o.readDataPercent, prune: o.prune }, { signal: ctx.signal, sink: ctx.sink });
      const result = { check: { ok: r.check.ok, snapshots: r.check.snapshots, packs: r.check.packs, packsRead: r.check.packsRead, errors: r.check.errors.length }, ...(r.prune ? { prune: { removedPacks: r.prune.remove.length, repackedPacks: r.prune.repack.length, bytesBefore: r.prune.bytesBefore, bytesAfter: r.prune.bytesAfter, reclaimedBytes: r.prune.reclaimedBytes } } : {}) };
      if (r.prune) ctx.log(`prune reclaimed ${r.prune.reclaimedBytes} bytes (${r.prune.bytesBefore} → ${r.prune.bytesAfter})`);
      if (!r.check.ok) return { phase: 'failed', result, errors: r.check.errors.slice(0, 20).map((e) => e.message) };
      return { phase: 'completed', result, warnings: r.check.warnings };
    });
  }

  /** A schedule's time has come: start its job, or skip (recorded) when its previous run is still going. */
  async fireSchedule(s: Schedule, at: Date): Promise<FireResult> {
    const key = s.kind === 'maintenance' || !s.app ? '*' : s.app;
    const busy = this.runner.busy(key);
    const atIso = at.toISOString();
    if (busy) {
      const reason = `skipped: job ${busy.id} (${busy.kind}) is still ${busy.phase}`;
      await this.inst.schedules.recordRun(s.id, atIso, null, reason, true);
      await this.audit('schedule:' + s.name, 'schedule.skip', s.name, null, 'skipped', { at: atIso, busy: busy.id });
      this.log.warn({ schedule: s.name, busy: busy.id }, `schedule ${s.name}: run at ${atIso} ${reason}`);
      return { started: false, reason };
    }
    try {
      const job =
        s.kind === 'maintenance'
          ? await this.submitMaintenance({ destination: s.destination, readDataPercent: s.maintenance?.readDataPercent ?? 5, prune: s.maintenance?.prune ?? true }, `schedule:${s.name}`, s)
          : await this.submitSnapshot({ ...(s.app ? { apps: [s.app] } : { full: true }), tags: s.tags, destination: s.destination }, `schedule:${s.name}`, s);
      await this.inst.schedules.recordRun(s.id, atIso, job.id, `started job ${job.id}`, false);
      this.log.info({ schedule: s.name, job: job.id }, `schedule ${s.name}: started job ${job.id}`);
      return { started: true, jobId: job.id };
    } catch (err) {
      const e = err instanceof AppError ? err : new AppError('INTERNAL', String(err));
      await this.inst.schedules.recordRun(s.id, atIso, null, `not started: ${e.message}`, true);
      await this.audit('schedule:' + s.name, 'schedule.run', s.name, null, 'refused', { code: e.code, message: e.message });
      this.log.error({ schedule: s.name, code: e.code }, `schedule ${s.name}: not started: ${e.message}`);
      return { started: false, reason: e.message };
    }
  }

  async audit(actor: string, action: string, target: string | null, ip: string | null, outcome: string, details?: Record<string, unknown>): Promise<void> {
    await this.inst.audit.record({ time: this.clock.now().toISOString(), actor, action, target, ip, outcome, details: details ?? null });
  }
}

function hasRules(s: Schedule): boolean {
  const r = s.retention;
  return !!(r.ttl || r.keepLast || r.keepHourly || r.keepDaily || r.keepWeekly || r.keepMonthly || r.keepYearly);
}

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
