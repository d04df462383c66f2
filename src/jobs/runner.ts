import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { isAbortError, redactSecrets, systemClock, toAppError, type Clock, type ProgressEvent, type ProgressSink } from '../kernel/index.js';
import { emptyProgress, isFinished, type JobKind, type JobPhase, type JobProgress, type JobRecord, type JobStore } from './job.js';
import { ProgressTracker } from './progress.js';

export interface JobRequest {
  kind: JobKind;
  app?: string | null;
  destination?: string | null;
  params?: Record<string, unknown>;
  requestedBy: string;
  scheduleId?: string | null;
  /**
   * What the job must not run beside: an application's name, or "*" for work on
   * the whole instance or repository (full snapshots, prune). Equal keys, or "*"
   * against anything, wait for each other.
   */
  exclusive?: string[];
  /** Components known up front, shown as pending until they start. */
  components?: { app: string; component: string; kind: string }[];
}

export interface JobContext {
  id: string;
  signal: AbortSignal;
  /** The engine's events land here: they become the job's progress and log. */
  sink: ProgressSink;
  log(line: string): void;
}

export interface JobOutcome {
  phase: Exclude<JobPhase, 'queued' | 'running' | 'canceled'>;
  result?: Record<string, unknown>;
  warnings?: string[];
  errors?: string[];
}

export type JobWork = (ctx: JobContext) => Promise<JobOutcome>;

export type JobEvent =
  | { type: 'job'; job: JobRecord }
  | { type: 'progress'; id: string; progress: JobProgress }
  | { type: 'log'; id: string; seq: number; time: string; line: string };

interface Active {
  job: JobRecord;
  work: JobWork;
  exclusive: string[];
  controller: AbortController;
  components: JobRequest['components'];
}

/**
 * Runs jobs: a global limit, one job at a time per exclusivity key (queued in
 * order otherwise), cancel through an AbortSignal, progress and log kept in the
 * store and streamed to subscribers. A job's outcome is data: its work returns
 * completed / partially_failed / failed; a throw is a failure with its reason;
 * an abort is canceled.
 */
export class JobRunner {
  private readonly queue: Active[] = [];
  private readonly running = new Map<string, Active>();
  private readonly events = new EventEmitter();
  private readonly clock: Clock;
  private readonly concurrency: number;
  private readonly finishedHooks: ((job: JobRecord) => void)[] = [];
  private seqs = new Map<string, number>();
  private closed = false;
  private idle: Promise<void>[] = [];

  constructor(private readonly store: JobStore, opts: { concurrency?: number; clock?: Clock } = {}) {
    this.clock = opts.clock ?? systemClock;
    this.concurrency = Math.max(1, opts.concurrency ?? 2);
    this.events.setMaxListeners(0);
  }

  /** Called with every job that reaches an outcome (notifications, metrics). */
  onFinished(fn: (job: JobRecord) => void): void {
    this.finishedHooks.push(fn);
  }

  /**
   * Jobs a previous process left queued or running are failed with the reason;
   * data their snapshots had written is reused by the next run (the repository
   * keeps indexed packs; prune removes the rest).
   */
  async recover(): Promise<JobRecord[]> {
    const left = await this.store.unfinished();
    const now = this.clock.now().toISOString();
    for (const j of left) {
      const why = j.phase === 'running' ? 'interrupted: the server stopped while this job was running; data it had saved is reused by the next run' : 'interrupted: the server stopped before this job started';
      await this.store.update(j.id, { phase: 'failed', finishedAt: now, errors: [...j.errors, why] });
      const last = (await this.store.log(j.id)).at(-1)?.seq ?? 0;
      await this.store.appendLog(j.id, [{ seq: last + 1, time: now, line: why }]);
    }
    return left;
  }

  async submit(req: JobRequest, work: JobWork): Promise<JobRecord> {
    if (this.closed) throw toAppError(new Error('The server is shutting down; try again when it is back.'));
    const job: JobRecord = {
      id: randomBytes(8).toString('hex'),
      kind: req.kind,
      app: req.app ?? null,
      destination: req.destination ?? null,
      phase: 'queued',
      params: req.params ?? {},
      progress: emptyProgress(),
      result: null,
      warnings: [],
      errors: [],
      requestedBy: req.requestedBy,
      scheduleId: req.scheduleId ?? null,
      createdAt: this.clock.now().toISOString(),
      startedAt: null,
      finishedAt: null,
    };
    const tracker = new ProgressTracker();
    if (req.components) tracker.plan(req.components);
    job.progress = tracker.progress;
    await this.store.insert(job);
    this.queue.push({ job, work, exclusive: req.exclusive ?? [], controller: new AbortController(), components: req.components });
    this.publish({ type: 'job', job: { ...job } });
    this.pump();
    return { ...job };
  }

  /** Whether a job with this key is queued or running (a schedule skips a run that would overlap). */
  busy(key: string): JobRecord | undefined {
    for (const a of [...this.running.values(), ...this.queue]) if (conflicts(a.exclusive, [key])) return { ...a.job };
    return undefined;
  }

  /** The live record of a queued or running job (fresher than the store's). */
  live(id: string): JobRecord | undefined {
    const a = this.running.get(id) ?? this.queue.find((q) => q.job.id === id);
    return a ? { ...a.job, progress: structuredClone(a.job.progress) } : undefined;
  }

  async cancel(id: string, by: string): Promise<JobRecord | undefined> {
    const qi = this.queue.findIndex((q) => q.job.id === id);
    if (qi >= 0) {
      const [a] = this.queue.splice(qi, 1);
      await this.finish(a!, { phase: 'canceled', errors: [`canceled by ${by} before it started`] });
      this.pump();
      return { ...a!.job };
    }
    const a = this.running.get(id);
    if (!a) return undefined;
    this.appendLog(a, `cancel requested by ${by}`);
    a.controller.abort();
    return { ...a.job };
  }

  subscribe(id: string, fn: (e: JobEvent) => void): () => void {
    const l = (e: JobEvent) => {
      if ((e.type === 'job' ? e.job.id : e.id) === id) fn(e);
    };
    this.events.on('event', l);
    return () => this.events.off('event', l);
  }

  subscribeAll(fn: (e: JobEvent) => void): () => void {
    this.events.on('event', fn);
    return () => this.events.off('event', fn);
  }

  /** Stops taking work, cancels what runs and waits for it to stop (post hooks run). */
  async shutdown(): Promise<void> {
    this.closed = true;
    for (const q of this.queue.splice(0)) await this.finish(q, { phase: 'canceled', errors: ['canceled: the server shut down before it started'] });
    for (const a of this.running.values()) {
      this.appendLog(a, 'the server is shutting down: canceling');
      a.controller.abort();
    }
    await Promise.allSettled(this.idle);
  }

  private pump(): void {
    if (this.closed) return;
    for (let i = 0; i < this.queue.length && this.running.size < this.concurrency; ) {
      const a = this.queue[i]!;
      const blocked = [...this.running.values()].some((r) => conflicts(r.exclusive, a.exclusive)) || this.queue.slice(0, i).some((q) => conflicts(q.exclusive, a.exclusive));
      if (blocked) {
        i++;
        continue;
      }
      this.queue.splice(i, 1);
      this.running.set(a.job.id, a);
      const p = this.run(a).finally(() => {
        this.running.delete(a.job.id);
        this.idle = this.idle.filter((x) => x !== p);
        this.pump();
      });
      this.idle.push(p);
    }
  }

  private async run(a: Active): Promise<void> {
    const job = a.job;
    job.phase = 'running';
    job.startedAt = this.clock.now().toISOString();
    await this.store.update(job.id, { phase: 'running', startedAt: job.startedAt });
    this.publish({ type: 'job', job: { ...job } });
    const tracker = new ProgressTracker();
    if (a.components) tracker.plan(a.components);
    job.progress = tracker.progress;
    let lastStore = 0;
    let lastPublish = 0;
    const sink: ProgressSink = {
      emit: (e: ProgressEvent) => {
        if (e.type === 'log') return this.appendLog(a, e.line, e.time);
        if (e.type === 'warning') {
          const w = `${e.path ? `${e.path}: ` : ''}${e.message}`;
          if (job.warnings.length < 1000) job.warnings.push(w);
        }
        if (e.type === 'error') job.errors.push(`${e.path ? `${e.path}: ` : ''}${e.message}`);
        tracker.apply(e);
        const t = this.clock.now().getTime();
        if (e.type === 'component' || t - lastPublish > 250) {
          lastPublish = t;
          this.publish({ type: 'progress', id: job.id, progress: structuredClone(job.progress) });
        }
        if (e.type === 'component' || t - lastStore > 2000) {
          lastStore = t;
          void this.store.update(job.id, { progress: job.progress }).catch(() => undefined);
        }
      },
    };
    let outcome: JobOutcome | { phase: 'canceled'; errors: string[] };
    try {
      outcome = await a.work({ id: job.id, signal: a.controller.signal, sink, log: (l) => this.appendLog(a, l) });
      if (a.controller.signal.aborted && outcome.phase === 'failed') outcome = { ...outcome, phase: 'canceled' } as never;
    } catch (err) {
      const e = toAppError(err);
      if (a.controller.signal.aborted || isAbortError(err) || e.code === 'CANCELLED') outcome = { phase: 'canceled', errors: ['canceled: work stopped at a safe point; the repository is consistent'] };
      else outcome = { phase: 'failed', errors: [redactSecrets(e.message)] };
    }
    tracker.finish();
    await this.finish(a, outcome);
  }

  private async finish(a: Active, outcome: JobOutcome | { phase: 'canceled'; errors: string[]; result?: Record<string, unknown>; warnings?: string[] }): Promise<void> {
    const job = a.job;
    job.phase = outcome.phase;
    job.finishedAt = this.clock.now().toISOString();
    if (outcome.result) job.result = outcome.result;
    job.warnings.push(...(outcome.warnings ?? []));
    job.errors.push(...(outcome.errors ?? []));
    this.appendLog(a, `job ${job.phase}${job.errors.length ? `: ${job.errors.slice(-1)[0]}` : ''}`);
    await this.flushLog(job.id);
    await this.store.update(job.id, { phase: job.phase, finishedAt: job.finishedAt, result: job.result, warnings: job.warnings, errors: job.errors, progress: job.progress });
    this.publish({ type: 'job', job: { ...job } });
    for (const fn of this.finishedHooks) {
      try {
        fn({ ...job });
      } catch {
        /* a listener's failure is its own */
      }
    }
  }

  private pendingLog = new Map<string, { seq: number; time: string; line: string }[]>();
  private logTimer: NodeJS.Timeout | undefined;

  private appendLog(a: Active, line: string, time = this.clock.now().toISOString()): void {
    const clean = redactSecrets(line);
    const seq = (this.seqs.get(a.job.id) ?? 0) + 1;
    this.seqs.set(a.job.id, seq);
    const list = this.pendingLog.get(a.job.id) ?? [];
    list.push({ seq, time, line: clean });
    this.pendingLog.set(a.job.id, list);
    this.publish({ type: 'log', id: a.job.id, seq, time, line: clean });
    this.logTimer ??= setTimeout(() => {
      this.logTimer = undefined;
      for (const id of [...this.pendingLog.keys()]) void this.flushLog(id).catch(() => undefined);
    }, 300);
  }

  private async flushLog(id: string): Promise<void> {
    const list = this.pendingLog.get(id);
    if (!list?.length) return;
    this.pendingLog.delete(id);
    await this.store.appendLog(id, list);
  }

  private publish(e: JobEvent): void {
    this.events.emit('event', e);
  }
}

function conflicts(a: string[], b: string[]): boolean {
  if (a.length === 0 || b.length === 0) return false;
  return a.some((x) => x === '*' || b.includes(x)) || b.includes('*');
}

export { isFinished };
