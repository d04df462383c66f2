import { readSpec } from './app.js';
import { resolve as resolvePath } from 'node:path';
import { AppError, errorTable } from '../../kernel/index.js';
import type { ApiClient } from '../../api/client/client.js';
import type { AppRestoreResult } from '../../engine/index.js';
import type { JobRecord } from '../../jobs/index.js';
import type { Snapshot } from '../../tree/index.js';
import { formatBytes, type Output } from '../render.js';
import { watchJob } from '../remote.js';
import { printAppSnapshotResult, printRestoreResult, parseMaps } from './app-snapshot.js';

/** A job that ended without what the command waits for: its errors as the command's failure, with the code its phase implies. */
function jobFailure(j: JobRecord, what: string): AppError {
  if (j.phase === 'canceled') return new AppError('CANCELLED', `${what} was canceled.`);
  return new AppError('INTERNAL', `${what} ${j.phase}: ${j.errors.join('; ') || 'see "strongbox job log ' + j.id.slice(0, 8) + '"'}`);
}

const q = (destination?: string) => (destination ? `?destination=${encodeURIComponent(destination)}` : '');

export async function remoteCreate(c: ApiClient, out: Output, o: { app?: string[]; full?: boolean; tag?: string[]; note?: string; destination?: string; detach?: boolean }): Promise<void> {
  const job = await c.request<JobRecord>('POST', '/api/snapshots', { ...(o.full ? { full: true } : { apps: o.app }), tags: o.tag ?? [], ...(o.note ? { note: o.note } : {}), ...(o.destination ? { destination: o.destination } : {}) });
  if (o.detach) {
    if (out.json) return out.data(job);
    out.err(`job ${job.id} started; "strongbox job watch ${job.id.slice(0, 8)}" follows it`);
    return out.out(job.id);
  }
  const j = await watchJob(c, job.id, out);
  const id = (j.result as { snapshot?: string } | null)?.snapshot;
  if (!id) throw jobFailure(j, 'The snapshot');
  const s = await c.get<{ manifest: Snapshot }>(`/api/snapshots/${id}${q(j.destination ?? o.destination)}`);
  printAppSnapshotResult(out, { id, snapshot: s.manifest });
}

export async function remoteRestore(c: ApiClient, out: Output, id: string, o: { component?: string[]; app?: string[]; map?: string[]; spec?: string[]; spaceCheck?: boolean; dryRun?: boolean; force?: boolean; destination?: string }): Promise<void> {
  const job = await c.request<JobRecord>('POST', `/api/snapshots/${encodeURIComponent(id)}/restore`, {
    ...(o.app ? { apps: o.app } : {}),
    ...(o.component ? { components: o.component } : {}),
    maps: parseMaps(o.map),
    ...(o.spec?.length ? { specs: o.spec.map((f) => readSpec(f)) } : {}),
    ...(o.spaceCheck === false ? { spaceCheck: false } : {}),
    dryRun: !!o.dryRun,
    force: !!o.force,
    ...(o.destination ? { destination: o.destination } : {}),
  });
  const j = await watchJob(c, job.id, out, { quietLog: !!o.dryRun });
  const res = j.result as AppRestoreResult | null;
  if (!res?.plan) throw jobFailure(j, 'The restore');
  printRestoreResult(out, res);
}

export async function remoteList(c: ApiClient, out: Output, o: { tag?: string[]; host?: string; path?: string; app?: string; destination?: string }, render: (rows: { id: string; snapshot: Snapshot }[]) => void): Promise<void> {
  const params = new URLSearchParams({
    manifest: 'true',
    ...(o.destination ? { destination: o.destination } : {}),
    ...(o.app ? { app: o.app } : {}),
    ...(o.tag?.length ? { tag: o.tag.join(',') } : {}),
    ...(o.host ? { host: o.host } : {}),
    ...(o.path ? { path: o.path } : {}),
  });
  const rows = await c.get<({ id: string } & Snapshot)[]>(`/api/snapshots?${params}`);
  render(rows.map(({ id, ...snapshot }) => ({ id, snapshot: snapshot as Snapshot })).reverse());
}

export async function remoteDownload(c: ApiClient, out: Output, id: string, o: { output: string; password: string; destination?: string }): Promise<void> {
  const job = await c.request<JobRecord>('POST', `/api/snapshots/${encodeURIComponent(id)}/download`, { password: o.password, ...(o.destination ? { destination: o.destination } : {}) });
  const j = await watchJob(c, job.id, out, { quietLog: true });
  if (j.phase !== 'completed') throw jobFailure(j, 'Preparing the archive');
  const file = resolvePath(o.output);
  const bytes = await c.download(`/api/jobs/${j.id}/artifact`, file);
  const source = String((j.result as { snapshot?: string }).snapshot);
  if (out.json) return out.data({ source, file, bytes });
  out.out(`Wrote snapshot ${source.slice(0, 8)} to ${file} (${formatBytes(bytes)})`);
}

export async function remoteUpload(c: ApiClient, out: Output, file: string, o: { password: string; to?: string }): Promise<void> {
  const job = await c.upload<JobRecord>(`/api/snapshots/upload${q(o.to)}`, resolvePath(file), { 'x-archive-password': o.password });
  const j = await watchJob(c, job.id, out, { quietLog: true });
  if (j.phase !== 'completed') {
    const e = jobFailure(j, `The upload of ${file}`);
    throw j.errors.some((x) => /verification|not an archive|corrupt|damaged|truncated|checksum/i.test(x)) ? new AppError('CORRUPT', e.message) : e;
  }
  const r = j.result as { snapshots: string[] };
  if (out.json) return out.data(r);
  for (const s of r.snapshots) out.out(`imported snapshot ${s.slice(0, 8)} (verified)`);
  out.out(`${r.snapshots.length} imported`);
}

export { errorTable };
