import { Cron } from 'croner';
import { AppError } from '../kernel/index.js';
import type { RetentionPolicy } from '../engine/index.js';

/** A schedule: when to snapshot an application (or the whole instance), or to run maintenance, and what to keep. */
export interface Schedule {
  id: string;
  name: string;
  /** backup: snapshots; maintenance: check and prune; drill: a restore drill of the latest snapshot (docs/DRILLS.md). */
  kind: 'backup' | 'maintenance' | 'drill';
  /** The application (null: a full snapshot, or maintenance; a drill of the latest snapshot of any application). */
  app: string | null;
  destination: string | null;
  cron: string;
  timezone: string;
  paused: boolean;
  retention: RetentionRules;
  tags: string[];
  /** Maintenance: the share of data read back by the check (0–100), and whether prune runs after it. */
  maintenance?: { readDataPercent: number; prune: boolean } | undefined;
  /** Drill schedules: how old the newest verified data of an application may get (8d, 36h) before it is overdue; default twice the interval. */
  objective?: string | undefined;
  createdAt: string;
  updatedAt: string;
  lastRunAt: string | null;
  lastJobId: string | null;
  lastOutcome: string | null;
  skipped: number;
}

/** Retention as an operator writes it (a schedule's part): a TTL and the engine's GFS counts. */
export type RetentionRules = Omit<RetentionPolicy, 'keepWithinMs' | 'keepTags'> & {
  /** Delete snapshots older than this (30d, 12h, 2w, 6m, 1y), unless another rule keeps them. */
  ttl?: string | undefined;
};

export const PRESETS: Record<string, string> = {
  hourly: '0 * * * *',
  daily: '0 2 * * *',
  weekly: '0 3 * * 0',
};

/** A preset name or a cron expression (5 fields, or 6 with seconds first), checked, in its canonical form. */
export function resolveCron(expr: string, timezone = 'UTC'): string {
  const cron = PRESETS[expr] ?? expr.trim();
  try {
    new Cron(cron, { timezone, paused: true }).nextRun();
  } catch (err) {
    const msg = (err as Error).message;
    if (/timezone/i.test(msg)) throw new AppError('INVALID_ARGUMENT', `Unknown time zone "${timezone}": use an IANA name such as UTC or Europe/Paris.`);
    throw new AppError('INVALID_ARGUMENT', `"${expr}" is not a schedule: use hourly, daily, weekly or a cron expression such as "30 2 * * *" (minute hour day month weekday). ${msg}`);
  }
  return cron;
}

export function checkTimezone(tz: string): string {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
  } catch {
    throw new AppError('INVALID_ARGUMENT', `Unknown time zone "${tz}": use an IANA name such as UTC or Europe/Paris.`);
  }
  return tz;
}

/** The next n run times strictly after `from` (pure: a function of the expression, the zone and from). */
export function nextRuns(cron: string, timezone: string, from: Date, n: number): Date[] {
  const job = new Cron(cron, { timezone, paused: true });
  const out: Date[] = [];
  let t: Date | null = from;
  while (out.length < n && t) {
    t = job.nextRun(t);
    if (t) out.push(t);
  }
  return out;
}

/** The smallest gap between runs (for "protection gap" checks): from the next few runs. */
export function intervalMs(cron: string, timezone: string, from: Date): number {
  const runs = nextRuns(cron, timezone, from, 4);
  let min = Infinity;
  for (let i = 1; i < runs.length; i++) min = Math.min(min, runs[i]!.getTime() - runs[i - 1]!.getTime());
  return Number.isFinite(min) ? min : 0;
}
