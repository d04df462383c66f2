import * as R from '../../contract/schemas.js';
import { createWriteStream, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { Readable } from 'node:stream';
import { AppError, registerSecret } from '../../../kernel/index.js';
import { deleteSnapshot, destinationTarget, diff, listDrills, listDirectoryOf, listSnapshotsOf, listTree, pinSnapshot, verificationStatus, readFileOf, showSnapshot, snapshotLog, unpinSnapshot } from '../../../operations/index.js';
import { snapshotView } from '../../contract/views.js';
import { CopyBody, DestinationQuery, DrillBody, DrillsQuery, FileQuery, FilesQuery, PinBody, DownloadBody, RestoreBody, SecuritySettings, SnapshotCreateBody, SnapshotsQuery } from '../../contract/index.js';
import type { ServerCore } from '../core.js';
import type { RouteTable } from '../http.js';

async function security(core: ServerCore) {
  return SecuritySettings.parse(await core.inst.settings.get('security', {}));
}

const at = (destination: string | undefined) => ({ destination: destination ?? null });

export function snapshotRoutes(t: RouteTable, o: { maxUploadBytes: number }): void {
  t.add({
    method: 'POST',
    url: '/api/drills',
    response: R.Job,
    access: 'operator',
    tag: 'drills',
    summary: 'Start a restore drill: the snapshot restored into throwaway targets on the server, checked and timed; returns the job (202)',
    body: DrillBody,
    status: 202,
    handler: async ({ body, caller, core }) => core.submit('drill', { ...(body.snapshot ? { snapshot: body.snapshot } : {}), ...(body.apps ? { apps: body.apps } : {}), ...(body.timeout ? { timeout: body.timeout } : {}), ...(body.spaceCheck === false ? { spaceCheck: false } : {}), where: at(body.destination ?? undefined) }, caller),
  });

  t.add({
    method: 'GET',
    url: '/api/drills',
    response: R.DrillList,
    access: 'viewer',
    tag: 'drills',
    summary: 'Restore drills recorded in a destination\'s repository, newest first (of one snapshot with ?snapshot=)',
    query: DrillsQuery,
    handler: async ({ query, core }) => listDrills(core.env, at(query.destination), query.snapshot),
  });

  t.add({
    method: 'GET',
    url: '/api/verification',
    response: R.VerificationList,
    access: 'viewer',
    tag: 'drills',
    summary: 'Per application: the newest snapshot a restore drill proved restorable, its measured recovery time, how old its data is, the drill objective and whether it is overdue',
    handler: async ({ core }) => verificationStatus(core.env),
  });

  t.add({
    method: 'GET',
    url: '/api/snapshots',
    response: R.SnapshotList,
    access: 'viewer',
    tag: 'snapshots',
    summary: 'List snapshots of a destination (default: the default destination), newest first, with filters',
    query: SnapshotsQuery,
    async handler({ query, reply, core }) {
      // An instance with no destination yet has no snapshots: an empty list, and the hint in a header (the console shows it).
      if (!query.destination && !(await core.inst.destinations.getDefault())) {
        reply.header('x-strongbox-hint', 'No destination yet: add one (Setup, or "strongbox destination add NAME LOCATION").');
        return [];
      }
      // One filter for every listing (tree/filter.ts): the CLI, local or remote, and the console see the same rows.
      const chosen = await listSnapshotsOf(core.env, at(query.destination), { tags: query.tag?.split(',').filter(Boolean), host: query.host, path: query.path, app: query.app, type: query.type, status: query.status });
      if (query.manifest === 'true') return chosen.map((s) => ({ id: s.id, ...s.snapshot, warnings: undefined, pinned: s.pinned, verified: s.verified })).reverse();
      return chosen.map((s) => snapshotView(s, s.pinned, s.destination, s.verified)).reverse();
    },
  });

  t.add({
    method: 'GET',
    url: '/api/snapshots/:id',
    response: R.SnapshotDetail,
    access: 'viewer',
    tag: 'snapshots',
    summary: 'One snapshot (id, unique prefix or "latest"): the whole manifest — components, hooks, warnings, errors',
    query: DestinationQuery,
    async handler({ query, params, core }) {
      const s = await showSnapshot(core.env, at(query.destination), params.id!);
      return { ...snapshotView(s, s.pinned, s.destination, s.verified), manifest: s.snapshot };
    },
  });

  t.add({
    method: 'GET',
    url: '/api/snapshots/:id/logs',
    response: R.Lines,
    access: 'viewer',
    tag: 'snapshots',
    summary: 'The log an application or full snapshot keeps (hooks, tools, components)',
    query: DestinationQuery,
    async handler({ query, params, core }) {
      return snapshotLog(core.env, at(query.destination), params.id!);
    },
  });

  t.add({
    method: 'GET',
    url: '/api/snapshots/:id/files',
    response: R.Files,
    access: 'viewer',
    tag: 'snapshots',
    summary: 'The files of a snapshot: one directory (default /), or with recursive=true every entry below it; application snapshots hold /APP/COMPONENT/…',
    query: FilesQuery,
    async handler({ query, params, core }) {
      const path = query.path ?? '/';
      if (query.recursive !== 'true') return listDirectoryOf(core.env, at(query.destination), params.id!, path);
      const ref = await showSnapshot(core.env, at(query.destination), params.id!);
      return { id: ref.id, path, entries: await listTree(core.env, at(query.destination), ref.id, path) };
    },
  });

  t.add({
    method: 'GET',
    url: '/api/snapshots/:id/diff/:other',
    response: R.Diff,
    access: 'viewer',
    tag: 'snapshots',
    summary: 'What changed from one snapshot to another: + added, - removed, M modified, T type changed, U metadata',
    query: DestinationQuery,
    handler: async ({ query, params, core }) => diff(core.env, at(query.destination), params.id!, params.other!),
  });

  t.add({
    method: 'GET',
    url: '/api/snapshots/:id/file',
    access: 'operator',
    tag: 'snapshots',
    summary: 'Download one file of a snapshot (admin, or operators when downloads are allowed), every byte read back and checked',
    query: FileQuery,
    binary: true,
    async handler({ req, reply, query, params, principal, actor, caller, core }) {
      if (principal!.role !== 'admin' && !(await security(core)).operatorsMayDownload) {
        await core.audit(actor, 'snapshot.file', params.id!, req.ip, 'forbidden');
        throw new AppError('FORBIDDEN', 'Downloads are for admins; an admin can allow operators in settings (security.operatorsMayDownload).');
      }
      // Refusals (no such path, a directory) answer with the error envelope; once the file is found it is streamed.
      await readFileOf(core.env, at(query.destination), params.id!, query.path, caller, async (f) => {
        const name = f.name.replace(/[^\w.@+-]/g, '_');
        reply.hijack();
        reply.raw.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(f.size), 'content-disposition': `attachment; filename="${name}"` });
        await pipeline(Readable.from(f.data), reply.raw);
      });
      return reply;
    },
  });

  t.add({
    method: 'POST',
    url: '/api/snapshots',
    response: R.Job,
    access: 'operator',
    tag: 'snapshots',
    summary: 'Start a snapshot: of applications (partial) or full; returns the job (202)',
    body: SnapshotCreateBody,
    status: 202,
    async handler({ body, caller, core }) {
      return core.submit('backup', { ...(body.full ? { full: true } : { apps: body.apps! }), tags: body.tags ?? [], ...(body.note ? { note: body.note } : {}), where: at(body.destination ?? undefined) }, caller);
    },
  });

  t.add({
    method: 'DELETE',
    url: '/api/snapshots/:id',
    response: R.Ack('deleted'),
    access: 'admin',
    tag: 'snapshots',
    summary: 'Delete a snapshot (pinned ones must be unpinned first); space is reclaimed by maintenance (prune)',
    query: DestinationQuery,
    async handler({ query, params, caller, core }) {
      return deleteSnapshot(core.env, at(query.destination), params.id!, caller);
    },
  });

  for (const pin of [true, false]) {
    t.add({
      method: pin ? 'POST' : 'DELETE',
      url: '/api/snapshots/:id/pin',
      response: R.Pin,
      // Pinning keeps history (operators); unpinning lets it be removed (admins).
      access: pin ? 'operator' : 'admin',
      tag: 'snapshots',
      summary: pin ? 'Pin a snapshot: no retention, forget or delete removes it, on any instance (the pin is kept in the repository)' : 'Unpin a snapshot (admins)',
      query: DestinationQuery,
      ...(pin ? { body: PinBody } : {}),
      async handler({ query, params, body, caller, core }) {
        const reason = (body as { reason?: string } | undefined)?.reason;
        if (pin) {
          const r = await pinSnapshot(core.env, at(query.destination), params.id!, caller, reason);
          return { id: r.id, pinned: true };
        }
        return unpinSnapshot(core.env, at(query.destination), params.id!, caller, { quiet: true });
      },
    });
  }

  t.add({
    method: 'POST',
    url: '/api/snapshots/:id/restore',
    response: R.Job,
    access: 'operator',
    tag: 'snapshots',
    summary: 'Restore (admin; operators when allowed in settings) or dry-run (operator): plan, preflight, apply; returns the job (202)',
    body: RestoreBody,
    status: 202,
    async handler({ req, body, params, principal, actor, caller, core }) {
      if (!body.dryRun && principal!.role !== 'admin' && !(await security(core)).operatorsMayRestore) {
        await core.audit(actor, 'snapshot.restore', params.id!, req.ip, 'forbidden');
        throw new AppError('FORBIDDEN', 'Restores are for admins (an operator may run a dry run); an admin can allow operators in settings (security.operatorsMayRestore).');
      }
      const { destination, ...rest } = body;
      return core.submit(body.dryRun ? 'restore-dry-run' : 'restore', { ...rest, snapshot: params.id!, where: at(destination ?? undefined) }, caller);
    },
  });

  t.add({
    method: 'POST',
    url: '/api/snapshots/:id/copy',
    response: R.Job,
    access: 'operator',
    tag: 'snapshots',
    summary: 'Replicate a snapshot (or "all") to another destination; only missing data is sent, re-runs copy nothing; returns the job',
    body: CopyBody,
    status: 202,
    async handler({ body, params, caller, core }) {
      return core.submit('copy', { snapshots: params.id === 'all' ? 'all' : [params.id!], from: at(body.destination ?? undefined), to: { destination: body.to } }, caller);
    },
  });

  t.add({
    method: 'POST',
    url: '/api/snapshots/:id/download',
    response: R.Job,
    access: 'operator',
    tag: 'snapshots',
    summary: 'Prepare a snapshot as one encrypted archive file (admin by default); returns the job, whose result names the file to GET',
    body: DownloadBody,
    status: 202,
    async handler({ req, body, params, principal, actor, caller, core }) {
      if (principal!.role !== 'admin' && !(await security(core)).operatorsMayDownload) {
        await core.audit(actor, 'snapshot.download', params.id!, req.ip, 'forbidden');
        throw new AppError('FORBIDDEN', 'Downloads are for admins; an admin can allow operators in settings (security.operatorsMayDownload).');
      }
      registerSecret(body.password);
      return core.submit('download', { snapshot: params.id!, where: at(body.destination ?? undefined), password: body.password, output: { spoolDir: core.downloadsDir } }, caller);
    },
  });

  t.add({
    method: 'POST',
    url: '/api/snapshots/upload',
    response: R.Job,
    access: 'admin',
    tag: 'snapshots',
    summary: 'Upload an archive (application/octet-stream body, password in X-Archive-Password): verified completely, then imported; returns the job',
    description: 'The body is streamed to disk with a size limit; the archive is verified (checksum, framing, every blob and tree) before anything is written to the destination.',
    query: DestinationQuery,
    rawBody: true,
    status: 202,
    async handler({ req, reply, query, actor, caller, core }) {
      const password = req.headers['x-archive-password'];
      if (typeof password !== 'string' || !password) throw new AppError('PASSWORD_REQUIRED', 'Send the archive\'s password in the X-Archive-Password header.');
      registerSecret(password);
      await destinationTarget(core.inst, query.destination ?? null); // an unknown destination is refused before the body is read
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
        rmSync(file, { force: true });
        await core.audit(actor, 'snapshot.upload', null, req.ip, 'failed', { message: (err as Error).message });
        throw err instanceof AppError ? err : new AppError('INVALID_ARGUMENT', `The upload broke off: ${(err as Error).message}`);
      }
      try {
        return await core.submit('upload', { file, password, where: at(query.destination), spooled: true }, caller);
      } catch (err) {
        rmSync(file, { force: true });
        throw err;
      }
    },
  });
}
