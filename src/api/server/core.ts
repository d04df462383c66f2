import { mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { AppError, systemClock, type Clock } from '../../kernel/index.js';
import { JobRunner, Scheduler, type FireResult, type JobKind, type JobRecord, type Schedule } from '../../jobs/index.js';
import type { Instance } from '../../app/index.js';
import { jobOperations, makeEnv, sweepDrills, prepare, recordStart, ServerRepositories, verificationStatus, type Caller, type Env, type JobRequests } from '../../operations/index.js';
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
  /** How often applications' verification is checked against their drill objectives (ms; default 10 minutes). */
  verificationCheckMs?: number;
}

/**
 * The server's working parts around one instance: the job runner, the
 * scheduler and notifications. It decides nothing about what a job does: it
 * submits the operation of the job kind's table (operations/jobs.ts).
 */
export class ServerCore {
  readonly inst: Instance;
  readonly env: Env;
  readonly runner: JobRunner;
  readonly scheduler: Scheduler;
  readonly notifier: Notifier;
  readonly clock: Clock;
  readonly log: Logger;
  readonly downloadsDir: string;
  readonly uploadsDir: string;
  readonly startedAt: Date;
  private readonly repos = new ServerRepositories();
  private readonly jobRetentionDays: number;
  private sweeper: NodeJS.Timeout | undefined;
  private verifier: NodeJS.Timeout | undefined;
  private readonly verificationCheckMs: number;

  constructor(o: CoreOptions) {
    this.inst = o.inst;
    this.log = o.log;
    this.clock = o.clock ?? systemClock;
    this.env = makeEnv(o.inst, this.repos, this.clock);
    this.startedAt = this.clock.now();
    this.jobRetentionDays = o.jobRetentionDays ?? 90;
    this.verificationCheckMs = o.verificationCheckMs ?? 600e3;
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
      if (job.kind === 'drill') void this.checkVerification();
    });
  }

  async start(): Promise<void> {
    const left = await this.runner.recover();
    for (const j of left) this.log.warn({ job: j.id }, `job ${j.id} (${j.kind}) was ${j.phase} when the server stopped: marked failed`);
    for (const d of sweepDrills(this.inst.home)) this.log.warn(`removed what an interrupted restore drill left: ${d}`);
    await this.sweep();
    this.sweeper = setInterval(() => void this.sweep(), 3600e3);
    this.sweeper.unref();
    await this.checkVerification();
    this.verifier = setInterval(() => void this.checkVerification(), this.verificationCheckMs);
    this.verifier.unref();
    this.scheduler.start();
  }

  async stop(): Promise<void> {
    this.scheduler.stop();
    if (this.sweeper) clearInterval(this.sweeper);
    if (this.verifier) clearInterval(this.verifier);
    await this.runner.shutdown();
    await this.notifier.idle();
    await this.repos.close();
  }

  /** Applications whose verified data got older than their drill objective are notified (once), and again when verified. */
  async checkVerification(): Promise<void> {
    try {
      await this.notifier.verificationChecked(await verificationStatus(this.env));
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'verification check failed');
    }
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

  /**
   * Submits a job: the kind's operation prepares it now (a bad request is
   * refused, and audited, before a job exists), then runs it on the runner.
   * Requests of people are audited with the job's id; a schedule's runs are
   * recorded with the schedule.
   */
  async submit<K extends JobKind>(kind: K, req: JobRequests[K], caller: Caller, o: { audit?: boolean } = {}): Promise<JobRecord> {
    const op = jobOperations[kind];
    const audited = o.audit ?? true;
    const plan: unknown = audited ? await prepare(op, this.env, req, caller) : await op.prepare(this.env, req, caller);
    const shape = op.job(plan);
    const job = await this.runner.submit({ ...shape, requestedBy: caller.actor, scheduleId: shape.scheduleId ?? null }, async (ctx) => op.outcome(await op.run(this.env, plan, { signal: ctx.signal, sink: ctx.sink, log: (l) => ctx.log(l), jobId: ctx.id }), plan));
    if (audited) await recordStart(op, this.env, req, plan, caller, { job: job.id });
    return job;
  }

  /** A schedule's time has come: start its job, or skip (recorded) when its previous run is still going. */
  async fireSchedule(s: Schedule, at: Date): Promise<FireResult> {
    const key = s.kind === 'drill' ? '#drill' : s.kind === 'maintenance' || !s.app ? '*' : s.app;
    const busy = this.runner.busy(key);
    const atIso = at.toISOString();
    const by: Caller = { actor: `schedule:${s.name}`, role: 'admin', ip: null };
    if (busy) {
      const reason = `skipped: job ${busy.id} (${busy.kind}) is still ${busy.phase}`;
      await this.inst.schedules.recordRun(s.id, atIso, null, reason, true);
      await this.audit(by.actor, 'schedule.skip', s.name, null, 'skipped', { at: atIso, busy: busy.id });
      this.log.warn({ schedule: s.name, busy: busy.id }, `schedule ${s.name}: run at ${atIso} ${reason}`);
      return { started: false, reason };
    }
    try {
      const where = { destination: s.destination };
      const job =
        s.kind === 'drill'
          ? await this.submit('drill', { where, ...(s.app ? { apps: [s.app] } : {}), schedule: s }, by, { audit: false })
          : s.kind === 'maintenance'
          ? await this.submit(s.maintenance?.prune ?? true ? 'prune' : 'check', { where, readDataPercent: s.maintenance?.readDataPercent ?? 5, prune: s.maintenance?.prune ?? true, schedule: s }, by, { audit: false })
          : await this.submit('backup', { ...(s.app ? { apps: [s.app] } : { full: true }), tags: s.tags, where, schedule: s }, by, { audit: false });
      await this.inst.schedules.recordRun(s.id, atIso, job.id, `started job ${job.id}`, false);
      this.log.info({ schedule: s.name, job: job.id }, `schedule ${s.name}: started job ${job.id}`);
      return { started: true, jobId: job.id };
    } catch (err) {
      const e = err instanceof AppError ? err : new AppError('INTERNAL', String(err));
      await this.inst.schedules.recordRun(s.id, atIso, null, `not started: ${e.message}`, true);
      await this.audit(by.actor, 'schedule.run', s.name, null, 'refused', { code: e.code, message: e.message });
      this.log.error({ schedule: s.name, code: e.code }, `schedule ${s.name}: not started: ${e.message}`);
      return { started: false, reason: e.message };
    }
  }

  async audit(actor: string, action: string, target: string | null, ip: string | null, outcome: string, details?: Record<string, unknown>): Promise<void> {
    await this.inst.audit.record({ time: this.clock.now().toISOString(), actor, action, target, ip, outcome, details: details ?? null });
  }
}

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
