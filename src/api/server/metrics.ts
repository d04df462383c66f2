import type { ServerCore } from './core.js';
import { verificationStatus } from '../../operations/index.js';

const esc = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

/**
 * Prometheus text format. Snapshot figures come from the catalog's snapshot
 * cache (every destination this instance has listed), job figures from the
 * job records, repository sizes from the last maintenance or backup job.
 */
export async function renderMetrics(core: ServerCore): Promise<string> {
  const lines: string[] = [];
  const metric = (name: string, type: string, help: string, samples: [Record<string, string>, number][]) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, v] of samples) {
      const l = Object.entries(labels).map(([k, x]) => `${k}="${esc(x)}"`).join(',');
      lines.push(`${name}${l ? `{${l}}` : ''} ${v === Infinity ? '+Inf' : v}`);
    }
  };
  const db = core.inst.catalog;
  const rows = await db.selectFrom('snapshot_cache').select(['repository', 'time', 'type', 'status', 'apps', 'bytes']).execute();
  const dests = new Map((await core.inst.destinations.list()).map((d) => [d.location, d.name]));
  const lastOk = new Map<string, number>();
  const lastBytes = new Map<string, { t: number; b: number }>();
  const counts = new Map<string, number>();
  for (const r of rows) {
    const dest = dests.get(r.repository) ?? r.repository;
    const apps = r.type === 'full' ? ['_full'] : r.apps ? r.apps.split(',') : [];
    const t = Date.parse(r.time) / 1000;
    for (const a of apps) {
      const key = `${dest}\u0000${a}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
      if (r.status === 'completed' && t > (lastOk.get(key) ?? 0)) lastOk.set(key, t);
      if (t > (lastBytes.get(key)?.t ?? 0)) lastBytes.set(key, { t, b: r.bytes });
    }
  }
  const split = (k: string) => {
    const [destination, app] = k.split('\u0000');
    return { destination: destination!, app: app! };
  };
  metric('strongbox_up', 'gauge', 'The server is running.', [[{ version: '0.1.0' }, 1]]);
  metric('strongbox_start_time_seconds', 'gauge', 'When the server started.', [[{}, core.startedAt.getTime() / 1000]]);
  metric('strongbox_last_successful_snapshot_timestamp_seconds', 'gauge', 'Time of the newest completed snapshot per application ("_full": full snapshots).', [...lastOk].map(([k, v]) => [split(k), v]));
  metric('strongbox_last_snapshot_bytes', 'gauge', 'Size of the newest snapshot per application.', [...lastBytes].map(([k, v]) => [split(k), v.b]));
  metric('strongbox_snapshots', 'gauge', 'Snapshots per application and destination.', [...counts].map(([k, v]) => [split(k), v]));
  const jobCounts = await core.inst.jobs.counts();
  metric('strongbox_jobs_total', 'counter', 'Jobs by kind and outcome.', jobCounts.map((c) => [{ kind: c.kind, phase: c.phase }, c.n]));
  const recent = await core.inst.jobs.list({ limit: 500 });
  const lastDur = new Map<string, number>();
  for (const j of recent) {
    if (!j.startedAt || !j.finishedAt) continue;
    const key = `${j.kind}\u0000${j.app ?? ''}`;
    if (!lastDur.has(key)) lastDur.set(key, (Date.parse(j.finishedAt) - Date.parse(j.startedAt)) / 1000);
  }
  metric('strongbox_last_job_duration_seconds', 'gauge', 'Duration of the newest finished job per kind and application.', [...lastDur].map(([k, v]) => {
    const [kind, app] = k.split('\u0000');
    return [{ kind: kind!, app: app! }, v];
  }));
  const sizes = new Map<string, number>();
  for (const j of recent) {
    const after = (j.result as { prune?: { bytesAfter?: number } } | null)?.prune?.bytesAfter;
    if (after !== undefined && j.destination !== undefined && !sizes.has(j.destination ?? 'default')) sizes.set(j.destination ?? 'default', after);
  }
  metric('strongbox_repository_size_bytes', 'gauge', 'Repository size after the newest prune, per destination.', [...sizes].map(([d, v]) => [{ destination: d }, v]));
  const running = recent.filter((j) => j.phase === 'running').length;
  const queued = recent.filter((j) => j.phase === 'queued').length;
  metric('strongbox_jobs_running', 'gauge', 'Jobs running now.', [[{}, running]]);
  metric('strongbox_jobs_queued', 'gauge', 'Jobs waiting to run.', [[{}, queued]]);
  // Restore drills (docs/DRILLS.md), from the catalog's copy of the drill records.
  const drillCounts = await core.inst.drills.counts();
  metric('strongbox_drills_total', 'counter', 'Restore drills recorded, by outcome.', (['passed', 'failed'] as const).map((st) => [{ status: st }, drillCounts.find((c) => c.status === st)?.n ?? 0]));
  const ver = await verificationStatus(core.env);
  metric('strongbox_app_verified_age_seconds', 'gauge', 'How old the data of the newest snapshot a restore drill proved restorable is, per application (+Inf: never verified).', ver.map((v) => [{ app: v.app }, v.ageSeconds ?? Infinity]));
  metric('strongbox_app_verified_objective_seconds', 'gauge', 'How old that data may get: the objective of the drill schedule covering the application.', ver.filter((v) => v.objectiveSeconds !== null).map((v) => [{ app: v.app }, v.objectiveSeconds!]));
  metric('strongbox_app_verification_overdue', 'gauge', '1 when an application\'s newest verified data is older than its drill objective.', ver.filter((v) => v.objectiveSeconds !== null).map((v) => [{ app: v.app }, v.overdue ? 1 : 0]));
  metric('strongbox_drill_last_success', 'gauge', 'Whether the newest restore drill of an application passed (1) or failed (0).', ver.filter((v) => v.lastDrill).map((v) => [{ app: v.app }, v.lastDrill!.status === 'passed' ? 1 : 0]));
  metric('strongbox_drill_last_timestamp_seconds', 'gauge', 'When the newest restore drill of an application finished.', ver.filter((v) => v.lastDrill).map((v) => [{ app: v.app }, Date.parse(v.lastDrill!.at) / 1000]));
  metric('strongbox_drill_recovery_seconds', 'gauge', 'The recovery time measured by the drill that verified the newest verified snapshot, per application.', ver.filter((v) => v.verified).map((v) => [{ app: v.app }, v.verified!.recoveryMs / 1000]));
  return lines.join('\n') + '\n';
}
