import { systemClock, type Clock } from '../kernel/index.js';
import { nextRuns, type Schedule } from './schedule.js';

export interface ScheduleSource {
  list(): Promise<Schedule[]>;
}

export type FireResult = { started: true; jobId: string } | { started: false; reason: string };

/**
 * Fires schedules at their times. It keeps, per schedule, the time it last
 * looked; each tick fires a schedule whose next run after that time has come.
 * Runs missed while the server was down are not made up one by one: the
 * cursor starts at the later of the server's start and the schedule's last
 * change. A tick is a pure step over (schedules, cursors, now), so tests drive
 * it with a ManualClock.
 */
export class Scheduler {
  private cursors = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private readonly startedAt: number;
  private ticking = false;

  constructor(
    private readonly source: ScheduleSource,
    private readonly fire: (s: Schedule, at: Date) => Promise<FireResult>,
    private readonly clock: Clock = systemClock,
    private readonly tickMs = 1000,
  ) {
    this.startedAt = clock.now().getTime();
  }

  start(): void {
    this.timer ??= setInterval(() => void this.tick().catch(() => undefined), this.tickMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One step: fires what is due; returns what it did. */
  async tick(): Promise<{ schedule: string; at: Date; result: FireResult }[]> {
    if (this.ticking) return [];
    this.ticking = true;
    try {
      const now = this.clock.now();
      const done: { schedule: string; at: Date; result: FireResult }[] = [];
      const list = await this.source.list();
      for (const s of list) {
        const changed = Date.parse(s.updatedAt);
        const cursor = Math.max(this.cursors.get(s.id) ?? this.startedAt, changed, this.startedAt);
        this.cursors.set(s.id, cursor);
        if (s.paused) {
          this.cursors.set(s.id, now.getTime());
          continue;
        }
        const [next] = nextRuns(s.cron, s.timezone, new Date(cursor), 1);
        if (!next || next.getTime() > now.getTime()) continue;
        this.cursors.set(s.id, now.getTime());
        const result = await this.fire(s, next);
        done.push({ schedule: s.name, at: next, result });
      }
      for (const id of [...this.cursors.keys()]) if (!list.some((s) => s.id === id)) this.cursors.delete(id);
      return done;
    } finally {
      this.ticking = false;
    }
  }

  /** When each schedule runs next, as this scheduler sees it. */
  next(s: Schedule, n = 1): Date[] {
    if (s.paused) return [];
    const from = Math.max(this.cursors.get(s.id) ?? 0, this.clock.now().getTime());
    return nextRuns(s.cron, s.timezone, new Date(from), n);
  }
}
