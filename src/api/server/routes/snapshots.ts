import { createWriteStream } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import type { Readable } from 'node:stream';
import { AppError, registerSecret } from '../../../kernel/index.js';
import { cachedSnapshots, deleteSnapshot, destinationTarget, pinSnapshot, repositoryPins, resolveSnapshot, snapshotLog, unpinSnapshot, withTarget } from '../../../app/index.js';
import { snapshotView } from '../../contract/views.js';
import { matchesFilter } from '../../../tree/index.js';
import { CopyBody, DestinationQuery, PinBody, DownloadBody, RestoreBody, SecuritySettings, SnapshotCreateBody, SnapshotsQuery } from '../../contract/index.js';
import type { ServerCore } from '../core.js';
import type { RouteTable } from '../http.js';

async function security(core: ServerCore) {
  return SecuritySettings.parse(await core.inst.settings.get('security', {}));
}

/** Runs fn on the destination's repository, kept open by the server between requests. */
async function onRepo<T>(core: ServerCore, destination: string | undefined, fn: (repo: import('../../../repo/index.js').Repository, name: string | null) => Promise<T>): Promise<T> {
  const t = await destinationTarget(core.inst, destination ?? null);
  return core.repos.use(t, (repo) => fn(repo, t.name));
}

export function snapshotRoutes(t: RouteTable, o: { maxUploadBytes: number }): void {
  t.add({
    method: 'GET',
    url: '/api/snapshots',
    access: 'viewer',
    tag: 'snapshots',
    summary: 'List snapshots of a destination (default: the default destination), newest first, with filters',
    query: SnapshotsQuery,
    async handler({ query, core }) {
      return onRepo(core, query.destination, async (repo, name) => {
        const pins = await repositoryPins(core.inst, repo);
        const all = await cachedSnapshots(core.inst, repo);
        // One filter for every listing (tree/filter.ts): the CLI, local or remote, and the console see the same rows.
        const chosen = all.filter((s) => matchesFilter(s, { tags: query.tag?.split(',').filter(Boolean), host: query.host, path: query.path, app: query.app, type: query.type, status: query.status }));
        if (query.manifest === 'true') return chosen.map((s) => ({ id: s.id, ...s.snapshot, warnings: undefined })).reverse();
        return chosen.map((s) => snapshotView(s, pins.has(s.id), name)).reverse();
      });
    },
  });

  t.add({
    method: 'GET',
    url: '/api/snapshots/:id',
    access: 'viewer',
    tag: 'snapshots',
    summary: 'One snapshot (id, unique prefix or "latest"): the whole manifest — components, hooks, warnings, errors',
    query: DestinationQuery,
    async handler({ query, params, core }) {
      return onRepo(core, query.destination, async (repo, name) => {
        const ref = await resolveSnapshot(core.inst, repo, params.id!);
        const pins = await repositoryPins(core.inst, repo);
        return { ...snapshotView(ref, pins.has(ref.id), name), manifest: ref.snapshot };
      });
    },
  });

  t.add({
    method: 'GET',
    url: '/api/snapshots/:id/logs',
    access: 'viewer',
    tag: 'snapshots',
    summary: 'The log an application or full snapshot keeps (hooks, tools, components)',
    query: DestinationQuery,
    async handler({ query, params, core }) {
      const target = await destinationTarget(core.inst, query.destination ?? null);
      return withTarget(target, async (repo) => {
        const ref = await resolveSnapshot(core.inst, repo, params.id!);
        return { id: ref.id, lines: (await snapshotLog(repo, ref)).split('\n').filter((l) => l !== '') };
      });
    },
  });

  t.add({
    method: 'POST',
    url: '/api/snapshots',
    access: 'operator',
    tag: 'snapshots',
    summary: 'Start a snapshot: of applications (partial) or full; returns the job (202)',
    body: SnapshotCreateBody,
    status: 202,
    async handler({ req, body, actor, core }) {
      try {
        const job = await core.submitSnapshot({ ...(body.full ? { full: true } : { apps: body.apps! }), tags: body.tags ?? [], ...(body.note ? { note: body.note } : {}), destination: body.destination ?? null }, actor);
        await core.audit(actor, 'snapshot.create', body.full ? 'full' : body.apps!.join(','), req.ip, 'ok', { job: job.id });
        return job;
      } catch (err) {
        await core.audit(actor, 'snapshot.create', body.full ? 'full' : (body.apps ?? []).join(','), req.ip, 'refused', { message: (err as Error).message });
        throw err;
      }
    },
  });

  t.add({
    method: 'DELETE',
    url: '/api/snapshots/:id',
    access: 'admin',
    tag: 'snapshots',
    summary: 'Delete a snapshot (pinned ones must be unpinned first); space is reclaimed by maintenance (prune)',
    query: DestinationQuery,
    async handler({ req, query, params, actor, core }) {
      return onRepo(core, query.destination, async (repo) => {
        const ref = await resolveSnapshot(core.inst, repo, params.id!);
        await deleteSnapshot(core.inst, repo, ref);
        await cachedSnapshots(core.inst, repo);
        await core.audit(actor, 'snapshot.delete', ref.id, req.ip, 'ok');
        return { deleted: ref.id };
      });
    },
  });

  for (const pin of [true, false]) {
    t.add({
      method: pin ? 'POST' : 'DELETE',
      url: '/api/snapshots/:id/pin',
      // Pinning keeps history (operators); unpinning lets it be removed (admins).
      access: pin ? 'operator' : 'admin',
      tag: 'snapshots',
      summary: pin ? 'Pin a snapshot: no retention, forget or delete removes it, on any instance (the pin is kept in the repository)' : 'Unpin a snapshot (admins)',
      query: DestinationQuery,
      ...(pin ? { body: PinBody } : {}),
      async handler({ req, query, params, body, actor, core }) {
        return onRepo(core, query.destination, async (repo) => {
          const ref = await resolveSnapshot(core.inst, repo, params.id!);
          const reason = (body as { reason?: string } | undefined)?.reason;
          if (pin) await pinSnapshot(core.inst, repo, ref, actor, core.clock.now(), reason);
          else await unpinSnapshot(core.inst, repo, ref, { quiet: true });
          await core.audit(actor, pin ? 'snapshot.pin' : 'snapshot.unpin', ref.id, req.ip, 'ok', reason ? { reason } : undefined);
          return { id: ref.id, pinned: pin };
        });
      },
    });
  }

  t.add({
    method: 'POST',
    url: '/api/snapshots/:id/restore',
    access: 'operator',
    tag: 'snapshots',
    summary: 'Restore (admin; operators when allowed in settings) or dry-run (operator): plan, preflight, apply; returns the job (202)',
    body: RestoreBody,
    status: 202,
    async handler({ req, body, params, principal, actor, core }) {
      if (!body.dryRun && principal!.role !== 'admin' && !(await security(core)).operatorsMayRestore) {
        await core.audit(actor, 'snapshot.restore', params.id!, req.ip, 'forbidden');
        throw new AppError('FORBIDDEN', 'Restores are for admins (an operator may run a dry run); an admin can allow operators in settings (security.operatorsMayRestore).');
      }
      const { destination, ...rest } = body;
      const job = await core.submitRestore(params.id!, { ...rest, destination: destination ?? null }, actor, principal!.role);
      await core.audit(actor, body.dryRun ? 'snapshot.restore-dry-run' : 'snapshot.restore', String(job.params.snapshot), req.ip, 'ok', { job: job.id, components: body.components ?? null, maps: (body.maps ?? []).map((m) => `${m.component}.${m.field}`) });
      return job;
    },
  });

  t.add({
    method: 'POST',
    url: '/api/snapshots/:id/copy',
    access: 'operator',
    tag: 'snapshots',
    summary: 'Replicate a snapshot (or "all") to another destination; only missing data is sent, re-runs copy nothing; returns the job',
    body: CopyBody,
    status: 202,
    async handler({ req, body, params, actor, core }) {
      const job = await core.submitCopy(params.id!, { from: body.destination ?? null, to: body.to }, actor);
      await core.audit(actor, 'snapshot.copy', params.id!, req.ip, 'ok', { job: job.id, to: body.to });
      return job;
    },
  });

  t.add({
    method: 'POST',
    url: '/api/snapshots/:id/download',
    access: 'operator',
    tag: 'snapshots',
    summary: 'Prepare a snapshot as one encrypted archive file (admin by default); returns the job, whose result names the file to GET',
    body: DownloadBody,
    status: 202,
    async handler({ req, body, params, principal, actor, core }) {
      if (principal!.role !== 'admin' && !(await security(core)).operatorsMayDownload) {
        await core.audit(actor, 'snapshot.download', params.id!, req.ip, 'forbidden');
        throw new AppError('FORBIDDEN', 'Downloads are for admins; an admin can allow operators in settings (security.operatorsMayDownload).');
      }
      registerSecret(body.password);
      const job = await core.submitDownload(params.id!, body.password, body.destination ?? null, actor);
      await core.audit(actor, 'snapshot.download', String(job.params.snapshot), req.ip, 'ok', { job: job.id });
      return job;
    },
  });

  t.add({
    method: 'POST',
    url: '/api/snapshots/upload',
    access: 'admin',
    tag: 'snapshots',
    summary: 'Upload an archive (application/octet-stream body, password in X-Archive-Password): verified completely, then imported; returns the job',
    description: 'The body is streamed to disk with a size limit; the archive is verified (checksum, framing, every blob and tree) before anything is written to the destination.',
    query: DestinationQuery,
    rawBody: true,
    status: 202,
    async handler({ req, reply, query, actor, core }) {
      const password = req.headers['x-archive-password'];
      if (typeof password !== 'string' || !password) throw new AppError('PASSWORD_REQUIRED', 'Send the archive\'s password in the X-Archive-Password header.');
      registerSecret(password);
      await destinationTarget(core.inst, query.destination ?? null);
      const declared = Number(req.headers['content-length'] ?? NaN);
      if (declared > o.maxUploadBytes) {
        // Read and drop a body of modest size, so that a client still sending it sees the answer;
        // a huge one gets the answer and a closed connection.
        if (declared > o.maxUploadBytes + 64 * 1024 * 1024) reply.header('connection', 'close');
        else (req.body as Readable).resume();
        throw new AppError('TOO_LARGE', `The upload (${declared} bytes) is over the limit of ${o.maxUploadBytes} bytes (serve --max-upload).`);
      }
      const file = join(core.uploadsDir, `${randomBytes(8).toString('hex')}.sbx`);
      let size = 0;
      const limit = o.maxUploadBytes;
      const counter = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          size += chunk.length;
          if (size > limit) cb(new AppError('TOO_LARGE', `The upload is over the limit of ${limit} bytes (serve --max-upload).`));
          else cb(null, chunk);
        },
      });
      try {
        await pipeline(req.body as Readable, counter, createWriteStream(file, { mode: 0o600 }));
      } catch (err) {
        const { rmSync } = await import('node:fs');
        rmSync(file, { force: true });
        await core.audit(actor, 'snapshot.upload', null, req.ip, 'failed', { message: (err as Error).message });
        throw err instanceof AppError ? err : new AppError('INVALID_ARGUMENT', `The upload broke off: ${(err as Error).message}`);
      }
      const job = await core.submitUpload(file, password, query.destination ?? null, actor);
      await core.audit(actor, 'snapshot.upload', null, req.ip, 'ok', { job: job.id, bytes: size });
      return job;
    },
  });
}
