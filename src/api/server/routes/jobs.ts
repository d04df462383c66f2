import { z } from 'zod';
import * as R from '../../contract/schemas.js';
import type { JobView } from '../../contract/responses.js';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { AppError } from '../../../kernel/index.js';
import { isFinished, type JobEvent, type JobRecord } from '../../../jobs/index.js';
import { JobsQuery } from '../../contract/index.js';
import type { ServerCore } from '../core.js';
import type { RouteTable } from '../http.js';

/** The freshest record of a job: live from the runner while it runs, from the catalog after. */
export async function getJob(core: ServerCore, id: string): Promise<JobRecord> {
  const live = core.runner.live(id);
  if (live) return live;
  const found = await core.inst.jobs.find(id);
  if (found.length === 1) return core.runner.live(found[0]!.id) ?? found[0]!;
  if (found.length > 1) throw new AppError('AMBIGUOUS_ID', `"${id}" matches several jobs; give more of the id.`);
  throw new AppError('NOT_FOUND', `No job "${id}". "strongbox job list" shows recent jobs.`);
}

export function jobRoutes(t: RouteTable): void {
  t.add({
    method: 'GET',
    url: '/api/jobs',
    response: z.array(R.Job),
    access: 'viewer',
    tag: 'jobs',
    summary: 'Recent jobs, newest first (filters: app, kind, phase, limit)',
    query: JobsQuery,
    async handler({ query, core }): Promise<JobView[]> {
      const rows = await core.inst.jobs.list({ ...(query.app ? { app: query.app } : {}), ...(query.kind ? { kind: query.kind as never } : {}), ...(query.phase ? { phase: query.phase as never } : {}), limit: query.limit ?? 100 });
      return rows.map((j) => core.runner.live(j.id) ?? j);
    },
  });

  t.add({ method: 'GET', url: '/api/jobs/:id',
    response: R.Job, access: 'viewer', tag: 'jobs', summary: 'One job: phase, progress per component, result, warnings and errors', handler: async ({ params, core }): Promise<JobView> => getJob(core, params.id!) });

  t.add({
    method: 'GET',
    url: '/api/jobs/:id/log',
    response: R.JobLog,
    access: 'viewer',
    tag: 'jobs',
    summary: 'A job\'s log lines (after: only lines after this sequence number)',
    async handler({ req, params, core }) {
      const job = await getJob(core, params.id!);
      const after = Number((req.query as { after?: string }).after ?? 0) || 0;
      return { id: job.id, lines: await core.inst.jobs.log(job.id, after) };
    },
  });

  t.add({
    method: 'GET',
    url: '/api/jobs/:id/events',
    access: 'viewer',
    tag: 'jobs',
    summary: 'Server-Sent Events: "job" (the record on each phase change), "progress", "log" (id = sequence; Last-Event-ID resumes), then "end"',
    sse: true,
    async handler({ req, reply, params, core }) {
      const job = await getJob(core, params.id!);
      const lastId = Number(req.headers['last-event-id'] ?? 0) || 0;
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache, no-transform', connection: 'keep-alive', 'x-accel-buffering': 'no' });
      const send = (event: string, data: unknown, id?: number) => res.write(`${id !== undefined ? `id: ${id}\n` : ''}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
      let lastSeq = lastId;
      const buffered: JobEvent[] = [];
      let live = false;
      let closed = false;
      const finish = () => {
        if (closed) return;
        closed = true;
        unsubscribe();
        clearInterval(beat);
        res.end();
      };
      const deliver = (e: JobEvent) => {
        if (closed) return;
        if (e.type === 'log') {
          if (e.seq <= lastSeq) return;
          lastSeq = e.seq;
          send('log', { seq: e.seq, time: e.time, line: e.line }, e.seq);
        } else if (e.type === 'progress') send('progress', e.progress);
        else {
          send('job', e.job);
          if (isFinished(e.job.phase)) {
            send('end', { phase: e.job.phase });
            finish();
          }
        }
      };
      const unsubscribe = core.runner.subscribe(job.id, (e) => (live ? deliver(e) : buffered.push(e)));
      const beat = setInterval(() => res.write(': keep-alive\n\n'), 15000);
      req.raw.on('close', finish);
      send('job', job);
      for (const l of await core.inst.jobs.log(job.id, lastId)) {
        lastSeq = Math.max(lastSeq, l.seq);
        send('log', l, l.seq);
      }
      const fresh = core.runner.live(job.id) ?? (await core.inst.jobs.get(job.id));
      live = true;
      for (const e of buffered.splice(0)) deliver(e);
      if (!closed && fresh && isFinished(fresh.phase)) {
        // Lines written after the first read, then the end.
        for (const l of await core.inst.jobs.log(job.id, lastSeq)) {
          lastSeq = l.seq;
          send('log', l, l.seq);
        }
        send('job', fresh);
        send('end', { phase: fresh.phase });
        finish();
      }
    },
  });

  t.add({
    method: 'POST',
    url: '/api/jobs/:id/cancel',
    response: R.Job,
    access: 'operator',
    tag: 'jobs',
    summary: 'Cancel a job: queued ones at once; running ones stop at the next safe point (post hooks still run)',
    async handler({ req, params, actor, core }) {
      const job = await getJob(core, params.id!);
      if (isFinished(job.phase)) throw new AppError('CONFLICT', `Job ${job.id} has already ended (${job.phase}).`);
      const r = await core.runner.cancel(job.id, actor);
      await core.audit(actor, 'job.cancel', job.id, req.ip, 'ok', { kind: job.kind, app: job.app });
      return r ?? job;
    },
  });

  t.add({
    method: 'GET',
    url: '/api/jobs/:id/artifact',
    access: 'operator',
    tag: 'jobs',
    summary: 'The archive a download job prepared (for the user who asked, or an admin), kept a day',
    binary: true,
    async handler({ req, reply, params, principal, actor, core }) {
      const job = await getJob(core, params.id!);
      if (job.kind !== 'download') throw new AppError('NOT_FOUND', `Job ${job.id} is a ${job.kind} job; only download jobs have an archive.`);
      if (principal!.role !== 'admin' && job.requestedBy !== actor) throw new AppError('FORBIDDEN', 'This archive belongs to the user who asked for it.');
      if (job.phase !== 'completed') throw new AppError('CONFLICT', `The archive is not ready: the job is ${job.phase}.`);
      const file = join(core.downloadsDir, `${job.id}.sbx`);
      if (!existsSync(file)) throw new AppError('NOT_FOUND', 'The archive is no longer kept (downloads are kept a day); start a new download.');
      await core.audit(actor, 'snapshot.download-fetch', String(job.params.snapshot), req.ip, 'ok', { job: job.id });
      const name = String((job.result as { fileName?: string } | null)?.fileName ?? `${job.id}.sbx`);
      reply.header('content-type', 'application/octet-stream').header('content-length', String(statSync(file).size)).header('content-disposition', `attachment; filename="${name}"`);
      return reply.send(createReadStream(file));
    },
  });
}
