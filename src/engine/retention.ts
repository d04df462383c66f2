/**
 * Retention (forget) policy: a pure function of the snapshots, the policy and now.
 * Grandfather-father-son buckets as restic and Borg define them: each keep-* rule
 * keeps the newest snapshot of each of the last N distinct periods that have one.
 */
export interface RetentionPolicy {
  keepLast?: number | undefined;
  keepHourly?: number | undefined;
  keepDaily?: number | undefined;
  keepWeekly?: number | undefined;
  keepMonthly?: number | undefined;
  keepYearly?: number | undefined;
  /** Keep everything newer than this many milliseconds before now. */
  keepWithinMs?: number | undefined;
  /** Tags that are never forgotten. */
  keepTags?: string[] | undefined;
}

export interface RetentionItem {
  id: string;
  time: string;
  tags: string[];
  /** Pinned snapshots are never forgotten. */
  pinned?: boolean;
  /** The newest snapshot of an application that a restore drill proved restorable: never forgotten (docs/DRILLS.md). */
  verified?: boolean;
  /** A failed snapshot is never counted by keep-* rules (absent: successful). */
  status?: string;
}

export interface RetentionDecision {
  id: string;
  keep: boolean;
  reasons: string[];
}

export function isEmptyPolicy(p: RetentionPolicy): boolean {
  return !(p.keepLast || p.keepHourly || p.keepDaily || p.keepWeekly || p.keepMonthly || p.keepYearly || p.keepWithinMs || p.keepTags?.length);
}

const buckets: { rule: keyof RetentionPolicy; label: string; key: (d: Date) => string }[] = [
  { rule: 'keepHourly', label: 'hourly', key: (d) => d.toISOString().slice(0, 13) },
  { rule: 'keepDaily', label: 'daily', key: (d) => d.toISOString().slice(0, 10) },
  { rule: 'keepWeekly', label: 'weekly', key: isoWeek },
  { rule: 'keepMonthly', label: 'monthly', key: (d) => d.toISOString().slice(0, 7) },
  { rule: 'keepYearly', label: 'yearly', key: (d) => d.toISOString().slice(0, 4) },
];

/**
 * Decides for each snapshot whether it is kept, with the rules that keep it.
 * Periods are computed in UTC. keep-* rules count successful and partially
 * failed snapshots, never failed ones; keepWithinMs (a TTL) keeps everything
 * younger; pinned snapshots are always kept, and so is the newest successful
 * one. An empty policy is refused by the caller.
 */
export function applyRetention(items: readonly RetentionItem[], policy: RetentionPolicy, now: Date): RetentionDecision[] {
  const sorted = [...items].sort((a, b) => b.time.localeCompare(a.time) || b.id.localeCompare(a.id));
  const decisions = new Map<string, RetentionDecision>(sorted.map((s) => [s.id, { id: s.id, keep: false, reasons: [] }]));
  const keep = (id: string, why: string) => {
    const d = decisions.get(id)!;
    d.keep = true;
    d.reasons.push(why);
  };
  const usable = sorted.filter((s) => s.status !== 'failed');
  usable.slice(0, policy.keepLast ?? 0).forEach((s, i) => keep(s.id, `last ${i + 1}`));
  for (const b of buckets) {
    const n = (policy[b.rule] as number | undefined) ?? 0;
    if (n <= 0) continue;
    const seen = new Set<string>();
    for (const s of usable) {
      if (seen.size >= n) break;
      const k = b.key(new Date(s.time));
      if (seen.has(k)) continue;
      seen.add(k);
      keep(s.id, `${b.label} ${k}`);
    }
  }
  if (policy.keepWithinMs) {
    const cutoff = now.getTime() - policy.keepWithinMs;
    for (const s of sorted) if (Date.parse(s.time) >= cutoff) keep(s.id, 'within');
  }
  if (policy.keepTags?.length) {
    for (const s of sorted) if (s.tags.some((t) => policy.keepTags!.includes(t))) keep(s.id, 'tag');
  }
  for (const s of sorted) if (s.pinned) keep(s.id, 'pinned');
  for (const s of sorted) if (s.verified && !decisions.get(s.id)!.keep) keep(s.id, 'newest verified');
  // The newest successful snapshot is never forgotten, whatever the rules say.
  const newestOk = sorted.find((s) => s.status === undefined || s.status === 'completed') ?? usable[0];
  if (newestOk && !decisions.get(newestOk.id)!.keep) keep(newestOk.id, 'newest successful');
  return sorted.map((s) => decisions.get(s.id)!);
}

function isoWeek(d: Date): string {
  const t = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
  const day = t.getUTCDay() || 7;
  t.setUTCDate(t.getUTCDate() + 4 - day);
  const yearStart = new Date(Date.UTC(t.getUTCFullYear(), 0, 1));
  const week = Math.ceil(((t.getTime() - yearStart.getTime()) / 86400000 + 1) / 7);
  return `${t.getUTCFullYear()}-W${String(week).padStart(2, '0')}`;
}

/** Parses durations such as 30d, 12h, 2w, 6m (months), 1y6m, 90min. */
export function parseDuration(s: string): number {
  const re = /(\d+)\s*(min|mo|y|m|w|d|h|s)/g;
  const unit: Record<string, number> = { y: 365 * 86400e3, mo: 30 * 86400e3, m: 30 * 86400e3, w: 7 * 86400e3, d: 86400e3, h: 3600e3, min: 60e3, s: 1e3 };
  let total = 0;
  let consumed = 0;
  for (const m of s.matchAll(re)) {
    total += Number(m[1]) * unit[m[2]!]!;
    consumed += m[0].length;
  }
  if (consumed !== s.replace(/\s/g, '').length || total === 0) throw new Error(`"${s}" is not a duration (use e.g. 30d, 12h, 2w, 6m, 1y)`);
  return total;
}
