import { resolve as resolvePath } from 'node:path';
import { AppError, type ProgressSink } from '../../kernel/index.js';
import type { JobRecord } from '../../jobs/index.js';
import type { AppRestoreResult, DrillRecord } from '../../engine/index.js';
import type { AppVerification } from '../../operations/index.js';
import type { Snapshot, SnapshotFilter } from '../../tree/index.js';
import { validateSpec, type DiffResult, type Entry, type ApplicationDetail, type ApplicationView, type CopySummary, type DestinationView, type AuditEntry, type InstalledLicense, type ListedSnapshot, type TokenInfo, type User, type Operations, type RemoveApplicationResult, type SpecCheck, type Ui, type UploadSummary, type Validation } from '../../operations/index.js';
import type { ApiClient } from './client.js';

/** A job that ended without what the command waits for: its errors as the command's failure, with the code its phase implies. */
export function jobFailure(j: JobRecord, what: string): AppError {
  if (j.phase === 'canceled') return new AppError('CANCELLED', `${what} was canceled.`);
  return new AppError('INTERNAL', `${what} ${j.phase}: ${j.errors.join('; ') || 'see "strongbox job log ' + j.id.slice(0, 8) + '"'}`);
}

/**
 * Follows a job's events to its end, feeding its progress and log lines to a
 * sink. When the signal fires (Ctrl-C) it stops watching — the job goes on on
 * the server — and says so.
 */
export async function followJob(client: ApiClient, id: string, ui: { sink: ProgressSink; signal?: AbortSignal | undefined }, o: { quietLog?: boolean; onEvent?: (e: { event: string; data: unknown }) => void } = {}): Promise<JobRecord> {
  let last: JobRecord | undefined;
  try {
    await client.events(
      `/api/jobs/${id}/events`,
      (e) => {
        o.onEvent?.(e);
        if (e.event === 'job') last = e.data as JobRecord;
        else if (e.event === 'progress') {
          const p = e.data as JobRecord['progress'];
          if (p.current) ui.sink.emit({ type: 'phase', phase: p.current });
          ui.sink.emit({ type: 'progress', counters: { files: p.items, dirs: 0, bytes: p.bytes, newBytes: p.newBytes, ...(p.totalBytes ? { totalBytes: p.totalBytes } : {}) } });
        } else if (e.event === 'log' && !o.quietLog) {
          const l = e.data as { time: string; line: string };
          ui.sink.emit({ type: 'log', time: l.time, line: l.line });
        } else if (e.event === 'end') return false;
        return true;
      },
      ui.signal,
    );
  } catch (err) {
    if (ui.signal?.aborted) throw new AppError('CANCELLED', `Stopped watching; job ${id} goes on ("strongbox job cancel ${id.slice(0, 8)}" stops it).`);
    throw err;
  }
  if (!last) throw new AppError('INTERNAL', `The server sent no record of job ${id}.`);
  return last.phase === 'running' || last.phase === 'queued' ? client.get<JobRecord>(`/api/jobs/${id}`) : last;
}

const enc = encodeURIComponent;

/** An operation that works only on the machine that holds the data. */
const here =
  (what: string) =>
  (): never => {
    throw new AppError('USAGE', `${what} works on the machine that holds the repository, not through a server: run it there without --server (or unset STRONGBOX_SERVER).`);
  };

const noArchivePassword = () => new AppError('PASSWORD_REQUIRED', 'The archive needs a password: --archive-password-file FILE or STRONGBOX_ARCHIVE_PASSWORD (with --server it is always needed: the server\'s repository password is not known here).');

/**
 * The operations through a Strongbox server: the same interface as in-process,
 * so commands print the same and exit the same. Long operations are the
 * server's jobs, followed to their end.
 */
export class HttpOperations implements Operations {
  readonly place: string;
  readonly remote = true;

  constructor(private readonly c: ApiClient, private readonly destination: string | undefined) {
    this.place = c.baseUrl;
  }

  private q(extra: Record<string, string | undefined> = {}): string {
    const p = new URLSearchParams();
    if (this.destination) p.set('destination', this.destination);
    for (const [k, v] of Object.entries(extra)) if (v !== undefined && v !== '') p.set(k, v);
    const s = p.toString();
    return s ? `?${s}` : '';
  }

  private dest(): { destination?: string } {
    return this.destination ? { destination: this.destination } : {};
  }

  /** Submits a job and follows it to its end. */
  private async job(path: string, body: unknown, ui: Ui, o: { quietLog?: boolean } = {}): Promise<JobRecord> {
    const job = await this.c.request<JobRecord>('POST', path, body);
    return followJob(this.c, job.id, ui, o);
  }

  submitSnapshot(req: Parameters<Operations['submitSnapshot']>[0]) {
    return this.c.request<JobRecord>('POST', '/api/snapshots', { ...(req.full ? { full: true } : { apps: req.apps }), tags: req.tags, ...(req.note ? { note: req.note } : {}), ...this.dest() });
  }

  async createSnapshot(req: Parameters<Operations['createSnapshot']>[0], ui: Ui) {
    const j = await this.job('/api/snapshots', { ...(req.full ? { full: true } : { apps: req.apps }), tags: req.tags, ...(req.note ? { note: req.note } : {}), ...this.dest() }, ui);
    const id = (j.result as { snapshot?: string } | null)?.snapshot;
    if (!id) throw jobFailure(j, 'The snapshot');
    const s = await this.c.get<{ manifest: Snapshot }>(`/api/snapshots/${id}${this.q({ destination: j.destination ?? undefined })}`);
    return { id, snapshot: s.manifest };
  }

  async runDrill(req: Parameters<Operations['runDrill']>[0], ui: Ui) {
    const j = await this.job('/api/drills', { ...req, ...this.dest() }, ui);
    const res = j.result as DrillRecord | null;
    if (!res?.components) throw jobFailure(j, 'The drill');
    return res;
  }

  listDrills(snapshot?: string) {
    return this.c.get<DrillRecord[]>(`/api/drills${this.q({ snapshot })}`);
  }

  verificationStatus() {
    return this.c.get<AppVerification[]>('/api/verification');
  }

  async restoreSnapshot(id: string, req: Parameters<Operations['restoreSnapshot']>[1], ui: Ui) {
    const j = await this.job(`/api/snapshots/${enc(id)}/restore`, { ...req, ...this.dest() }, ui, { quietLog: req.dryRun });
    const res = j.result as AppRestoreResult | null;
    if (!res?.plan) throw jobFailure(j, 'The restore');
    return res;
  }

  async snapshotKind(id: string) {
    const s = await this.showSnapshot(id);
    return { id: s.id, kind: s.snapshot.type ?? ('files' as const) };
  }

  async listSnapshots(f: SnapshotFilter) {
    const rows = await this.c.get<({ id: string; pinned?: boolean; verified?: ListedSnapshot['verified'] } & Snapshot)[]>(`/api/snapshots${this.q({ manifest: 'true', app: f.app, tag: f.tags?.join(','), host: f.host, path: f.path, type: f.type, status: f.status })}`);
    return rows.map(({ id, pinned, verified, ...snapshot }) => ({ id, snapshot: snapshot as Snapshot, pinned: !!pinned, destination: this.destination ?? null, verified: verified ?? null })).reverse();
  }

  async showSnapshot(id: string): Promise<ListedSnapshot> {
    const s = await this.c.get<{ id: string; pinned: boolean; destination: string | null; manifest: Snapshot; verified: ListedSnapshot['verified'] }>(`/api/snapshots/${enc(id)}${this.q()}`);
    return { id: s.id, snapshot: s.manifest, pinned: s.pinned, destination: s.destination, verified: s.verified ?? null };
  }

  snapshotLog(id: string) {
    return this.c.get<{ id: string; lines: string[] }>(`/api/snapshots/${enc(id)}/logs${this.q()}`);
  }

  deleteSnapshot(id: string) {
    return this.c.request<{ deleted: string }>('DELETE', `/api/snapshots/${enc(id)}${this.q()}`);
  }

  pinSnapshot(id: string, reason: string | undefined) {
    return this.c.request<{ id: string; pinned: true }>('POST', `/api/snapshots/${enc(id)}/pin${this.q()}`, reason ? { reason } : {});
  }

  async unpinSnapshot(id: string, quiet: boolean) {
    if (!quiet) {
      const s = await this.showSnapshot(id);
      if (!s.pinned) throw new AppError('NOT_FOUND', `Snapshot ${s.id.slice(0, 8)} is not pinned.`);
    }
    return this.c.request<{ id: string; pinned: false }>('DELETE', `/api/snapshots/${enc(id)}/pin${this.q()}`);
  }

  async downloadSnapshot(id: string, file: string, password: string | undefined, ui: Ui) {
    if (!password) throw noArchivePassword();
    const j = await this.job(`/api/snapshots/${enc(id)}/download`, { password, ...this.dest() }, ui, { quietLog: true });
    if (j.phase !== 'completed') throw jobFailure(j, 'Preparing the archive');
    const out = resolvePath(file);
    const bytes = await this.c.download(`/api/jobs/${j.id}/artifact`, out);
    return { source: String((j.result as { snapshot?: string }).snapshot), file: out, bytes };
  }

  async uploadArchive(file: string, password: string | undefined, to: string | undefined, ui: Ui): Promise<UploadSummary> {
    if (!password) throw noArchivePassword();
    const where = to ?? this.destination;
    const job = await this.c.upload<JobRecord>(`/api/snapshots/upload${where ? `?destination=${enc(where)}` : ''}`, resolvePath(file), { 'x-archive-password': password });
    const j = await followJob(this.c, job.id, ui, { quietLog: true });
    if (j.phase !== 'completed') {
      const e = jobFailure(j, `The upload of ${file}`);
      throw j.errors.some((x) => /verification|not an archive|corrupt|damaged|truncated|checksum/i.test(x)) ? new AppError('CORRUPT', e.message) : e;
    }
    return j.result as unknown as UploadSummary;
  }

  async copySnapshots(ids: string[] | 'all', to: Parameters<Operations['copySnapshots']>[1], ui: Ui): Promise<CopySummary> {
    if (!('destination' in to)) return here('Copying to a repository location (--to-repo)')();
    const sum: CopySummary = { copied: [], skipped: [], blobsSent: 0, bytesSent: 0, storedBytesSent: 0 };
    for (const id of ids === 'all' ? ['all'] : ids) {
      const j = await this.job(`/api/snapshots/${enc(id)}/copy`, { to: to.destination, ...this.dest() }, ui, { quietLog: true });
      if (j.phase !== 'completed') throw jobFailure(j, 'The copy');
      const r = j.result as unknown as CopySummary;
      sum.copied.push(...r.copied);
      sum.skipped.push(...r.skipped);
      sum.blobsSent += r.blobsSent ?? 0;
      sum.bytesSent += r.bytesSent;
      sum.storedBytesSent += r.storedBytesSent;
    }
    return sum;
  }

  async listFiles(id: string, path: string, each: (e: Entry) => void): Promise<void> {
    const r = await this.c.get<{ entries: Entry[] }>(`/api/snapshots/${enc(id)}/files${this.q({ path, recursive: 'true' })}`);
    for (const e of r.entries) each(e);
  }

  async dumpFile(id: string, path: string, out: NodeJS.WritableStream): Promise<void> {
    await this.c.stream(`/api/snapshots/${enc(id)}/file${this.q({ path })}`, out);
  }

  diff(a: string, b: string) {
    return this.c.get<DiffResult>(`/api/snapshots/${enc(a)}/diff/${enc(b)}${this.q()}`);
  }

  forgetSnapshots(): never {
    throw new AppError('USAGE', 'Through a server, retention belongs to schedules ("strongbox schedule add … --keep-daily 7"); "snapshot forget" works on the machine that holds the repository, without --server.');
  }

  // What reads or writes this machine's files, or the repository's own upkeep, is done where the data is.
  readonly backupPaths = here('A snapshot of paths (--path)');
  readonly restoreFiles = here('Restoring files to a directory (--target)');
  readonly checkRepository = here('"repo check"');
  readonly pruneRepository = here('"repo prune"');
  readonly repositoryStats = here('"repo stats"');
  readonly unlockRepository = here('"repo unlock"');
  readonly rebuildIndex = here('"repo index rebuild"');
  readonly listKeys = here('"repo key"');
  readonly addKey = here('"repo key"');
  readonly removeKey = here('"repo key"');
  readonly changePassword = here('"repo key"');

  listApplications() {
    return this.c.get<ApplicationView[]>('/api/applications');
  }

  showApplication(name: string) {
    return this.c.get<ApplicationDetail>(`/api/applications/${enc(name)}`);
  }

  async validateSpec(text: string): Promise<SpecCheck> {
    const r = await this.c.request<{ ok: boolean; problems?: SpecCheck extends { problems: infer P } ? P : never }>('POST', '/api/applications/validate', { spec: text });
    if (!r.ok) return { ok: false, problems: r.problems ?? [] };
    // The server only says it is valid; the spec itself is parsed here for the summary.
    return validateSpec(text);
  }

  addApplication(text: string, replace: boolean) {
    return this.c.request<Awaited<ReturnType<Operations['addApplication']>>>('POST', '/api/applications', { spec: text, replace });
  }

  removeApplication(name: string, withSchedules: boolean) {
    return this.c.request<RemoveApplicationResult>('DELETE', `/api/applications/${enc(name)}${withSchedules ? '?withSchedules=true' : ''}`);
  }

  listDestinations() {
    return this.c.get<DestinationView[]>('/api/destinations');
  }

  showDestination(name: string) {
    return this.c.get<DestinationView>(`/api/destinations/${enc(name)}`);
  }

  addDestination(req: Parameters<Operations['addDestination']>[0]) {
    if (!('plain' in req.password)) throw new AppError('USAGE', 'With --server the password is sent to the server and stored sealed there; --password-from-env/--password-from-file name places on the server\'s machine and are set there.');
    const st = req.store;
    return this.c.request<DestinationView & { validation: Validation | null }>('POST', '/api/destinations', { name: req.name, location: req.location, password: req.password.plain, init: req.init, default: req.makeDefault, skipValidation: req.skipValidation, ...(st?.secret || st?.accessKeyId ? { store: st } : {}) });
  }

  validateDestination(name: string) {
    return this.c.request<Validation & { name: string }>('POST', `/api/destinations/${enc(name)}/validate`);
  }

  setDefaultDestination(name: string) {
    return this.c.request<{ default: string }>('POST', `/api/destinations/${enc(name)}/default`);
  }

  removeDestination(name: string) {
    return this.c.request<{ removed: string }>('DELETE', `/api/destinations/${enc(name)}`);
  }

  listUsers() {
    return this.c.get<User[]>('/api/users');
  }

  addUser(r: Parameters<Operations['addUser']>[0]) {
    return this.c.request<User>('POST', '/api/users', r);
  }

  updateUser(name: string, r: Parameters<Operations['updateUser']>[1]) {
    return this.c.request<User>('PATCH', `/api/users/${enc(name)}`, r);
  }

  removeUser(name: string) {
    return this.c.request<{ removed: string }>('DELETE', `/api/users/${enc(name)}`);
  }

  listTokens() {
    return this.c.get<TokenInfo[]>('/api/tokens');
  }

  createToken(r: Parameters<Operations['createToken']>[0]) {
    // The server makes tokens for whoever asks (its own user), never for another.
    return this.c.request<TokenInfo & { token: string }>('POST', '/api/tokens', { name: r.name, ...(r.role ? { role: r.role } : {}), ...(r.expiresInDays ? { expiresInDays: r.expiresInDays } : {}) });
  }

  revokeToken(idOrName: string) {
    return this.c.request<TokenInfo>('DELETE', `/api/tokens/${enc(idOrName)}`);
  }

  auditLog(q: Parameters<Operations['auditLog']>[0]) {
    const p = new URLSearchParams(Object.entries(q).filter(([, v]) => v !== undefined).map(([k, v]): [string, string] => [k, String(v)]));
    return this.c.get<AuditEntry[]>(`/api/audit?${p}`);
  }

  listLicenses() {
    return this.c.get<InstalledLicense[]>('/api/licenses');
  }

  installLicense(text: string) {
    return this.c.request<Awaited<ReturnType<Operations['installLicense']>>>('POST', '/api/licenses', JSON.parse(text) as unknown);
  }

  removeLicense(id: string) {
    return this.c.request<{ removed: string }>('DELETE', `/api/licenses/${enc(id)}`);
  }

  async close(): Promise<void> {}
}
