import { AppError, systemClock, type ProgressSink } from '../../kernel/index.js';
import type { SnapshotRemover } from '../../repo/index.js';
import { listSnapshots, type SnapshotRef } from '../../tree/index.js';
import { applyRetention, isEmptyPolicy, type RetentionDecision, type RetentionPolicy } from '../retention.js';

export interface ForgetOptions {
  repo: SnapshotRemover;
  policy: RetentionPolicy;
  dryRun?: boolean;
  now?: Date;
  sink?: ProgressSink;
  /** Snapshots that are never forgotten (pinned). */
  pinned?: ReadonlySet<string>;
  /** Only these snapshots are considered (e.g. one schedule's), as one group. */
  select?: (s: SnapshotRef) => boolean;
}

export interface ForgetGroup {
  host: string;
  paths: string[];
  decisions: (RetentionDecision & { time: string })[];
}

export interface ForgetResult {
  dryRun: boolean;
  groups: ForgetGroup[];
  removed: string[];
}

/**
 * Per application, the newest snapshot a passed restore drill proved
 * restorable: retention never removes it (the one snapshot known to come back).
 */
export function newestVerified(snaps: SnapshotRef[], drills: unknown[]): Set<string> {
  const passed = new Map<string, Set<string>>();
  for (const d of drills as { snapshot?: unknown; status?: unknown; apps?: unknown }[]) {
    if (typeof d?.snapshot !== 'string' || d.status !== 'passed' || !Array.isArray(d.apps)) continue;
    const set = passed.get(d.snapshot) ?? new Set<string>();
    for (const a of d.apps) if (typeof a === 'string') set.add(a);
    passed.set(d.snapshot, set);
  }
  const out = new Set<string>();
  const seen = new Set<string>();
  for (const s of [...snaps].sort((a, b) => b.snapshot.time.localeCompare(a.snapshot.time))) {
    for (const app of passed.get(s.id) ?? []) {
      if (seen.has(app)) continue;
      seen.add(app);
      out.add(s.id);
    }
  }
  return out;
}

/**
 * Applies a retention policy per group of snapshots (same host and paths) and
 * removes the snapshots it does not keep. Data is reclaimed later by prune.
 */
export async function forget(opts: ForgetOptions): Promise<ForgetResult> {
  if (isEmptyPolicy(opts.policy)) {
    throw new AppError('USAGE', 'No retention rule given; forget would remove every snapshot. Give at least one --keep-* option.');
  }
  const { repo } = opts;
  const lock = await repo.lock(false);
  try {
    const all = await listSnapshots(repo);
    // Pins live in the repository, so every instance and the CLI honour the same ones.
    const pinned = new Set([...(opts.pinned ?? []), ...(await repo.listPins()).keys()]);
    const verified = newestVerified(all, await repo.listDrills());
    const snaps = opts.select ? all.filter(opts.select) : all;
    const groups = new Map<string, typeof snaps>();
    for (const s of snaps) {
      const key = opts.select ? JSON.stringify(['*', []]) : JSON.stringify([s.snapshot.host, [...s.snapshot.paths].sort()]);
      groups.set(key, [...(groups.get(key) ?? []), s]);
    }
    const out: ForgetGroup[] = [];
    const removed: string[] = [];
    for (const [key, members] of groups) {
      const [host, paths] = JSON.parse(key) as [string, string[]];
      const times = new Map(members.map((m) => [m.id, m.snapshot.time]));
      const decisions = applyRetention(
        members.map((m) => ({ id: m.id, time: m.snapshot.time, tags: m.snapshot.tags, pinned: pinned.has(m.id), ...(verified.has(m.id) ? { verified: true } : {}), ...(m.snapshot.status ? { status: m.snapshot.status } : {}) })),
        opts.policy,
        opts.now ?? systemClock.now(),
      ).map((d) => ({ ...d, time: times.get(d.id)! }));
      out.push({ host, paths, decisions });
      for (const d of decisions) if (!d.keep) removed.push(d.id);
    }
    if (!opts.dryRun) for (const id of removed) await repo.removeSnapshot(id);
    return { dryRun: !!opts.dryRun, groups: out, removed };
  } finally {
    await lock.release().catch(() => undefined);
  }
}
