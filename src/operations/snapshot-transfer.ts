import { rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { AppError } from '../kernel/index.js';
import { copySnapshots, type CopyResult, type ForeignReport } from '../engine/index.js';
import { identityOf, type SnapshotRef } from '../tree/index.js';
import { downloadSnapshot, uploadArchive } from '../app/index.js';
import { targetOf, type Where } from './context.js';
import type { JobOperation } from './operation.js';
import { cachedSnapshots, listSnapshots, resolveSnapshot, withCodecPool, type Target } from './repositories.js';

/** Where an archive is written: a file the caller names, or the server's spool (named after the job). */
export type ArchiveOutput = { file: string } | { spoolDir: string };

export interface DownloadRequest {
  snapshot: string;
  where: Where;
  /** The archive's own password (it carries a fresh key wrapped by it). */
  password: string;
  output: ArchiveOutput;
}

export interface DownloadPlan {
  req: DownloadRequest;
  target: Target;
  ref: SnapshotRef;
}

export interface DownloadOutcome {
  source: string;
  /** Where a server's client fetches the file (jobs only). */
  artifact?: string;
  file: string;
  bytes: number;
  snapshot: string;
}

/** One snapshot, with all its data, as a single encrypted archive file. */
export const downloadArchive: JobOperation<DownloadRequest, DownloadPlan, DownloadOutcome> = {
  async prepare(env, req) {
    const target = await targetOf(env, req.where);
    const ref = await env.repos.read(target, (repo) => resolveSnapshot(env.inst, repo, req.snapshot));
    return { req, target, ref };
  },
  job: (p) => ({ kind: 'download', app: (p.ref.snapshot.applications ?? []).map((a) => a.name).join(',') || null, destination: p.target.name, params: { snapshot: p.ref.id, download: true } }),
  async run(env, p, ctx) {
    const o = p.req.output;
    const file = 'file' in o ? o.file : join(o.spoolDir, `${ctx.jobId ?? 'download'}.sbx`);
    return env.repos.work(p.target, async (repo) => {
      await repo.loadIndex();
      const r = await withCodecPool(repo, (pool) => downloadSnapshot({ source: repo, sourcePool: pool, snapshot: p.ref, file, password: p.req.password, ...(ctx.sink ? { sink: ctx.sink } : {}), ...(ctx.signal ? { signal: ctx.signal } : {}) }));
      return { source: p.ref.id, ...r, ...(ctx.jobId ? { artifact: `/api/jobs/${ctx.jobId}/artifact` } : {}) };
    });
  },
  outcome: (r, p) => ({ phase: 'completed', result: { snapshot: p.ref.id, archiveBytes: r.bytes, ...(r.artifact ? { artifact: r.artifact } : {}), fileName: `strongbox-${identityOf(p.ref).slice(0, 8)}.sbx` } }),
  audit: (req, p) => ({ action: 'snapshot.download', target: p?.ref.id ?? req.snapshot }),
};

export interface UploadRequest {
  file: string;
  password: string;
  where: Where;
  /** The file is the server's spool copy of an upload: removed afterwards, and never named in messages. */
  spooled?: boolean | undefined;
}

export interface UploadPlan {
  req: UploadRequest;
  target: Target;
  bytes: number;
}

export type UploadOutcome = CopyResult & { verifiedBytes: number; inspected: ForeignReport };

/** Imports the snapshots of an archive after verifying every byte and measuring what it expands to (docs/SECURITY.md). */
export const uploadArchiveOp: JobOperation<UploadRequest, UploadPlan, UploadOutcome> = {
  async prepare(env, req) {
    const target = await targetOf(env, req.where);
    let bytes: number;
    try {
      bytes = statSync(req.file).size;
    } catch (err) {
      throw new AppError('NOT_FOUND', `Cannot read the archive ${req.file}: ${(err as Error).message}.`, { cause: err });
    }
    return { req, target, bytes };
  },
  job: (p) => ({ kind: 'upload', destination: p.target.name, params: { bytes: p.bytes } }),
  async run(env, p, ctx) {
    const { req } = p;
    try {
      return await env.repos.work(p.target, async (repo) => {
        await repo.loadIndex();
        const r = await withCodecPool(repo, (pool) => uploadArchive({ file: req.file, password: req.password, target: repo, targetPool: pool, ...(ctx.sink ? { sink: ctx.sink } : {}), ...(ctx.signal ? { signal: ctx.signal } : {}), now: env.clock.now() }));
        if (env.inst) await cachedSnapshots(env.inst, repo).catch(() => undefined);
        return r;
      });
    } catch (err) {
      // The spool file's name means nothing to the uploader.
      if (req.spooled && err instanceof AppError) throw new AppError(err.code, err.message.split(req.file).join('The uploaded archive'), { cause: err });
      throw err;
    } finally {
      if (req.spooled) rmSync(req.file, { force: true });
    }
  },
  outcome: (r) => ({
    phase: 'completed',
    result: {
      snapshots: r.copied.map((c) => c.target),
      copied: r.copied,
      skipped: r.skipped,
      verifiedBytes: r.verifiedBytes,
      inspected: { snapshots: r.inspected.snapshots, files: r.inspected.files, dirs: r.inspected.dirs, expandedBytes: r.inspected.expandedBytes },
      storedBytesSent: r.storedBytesSent,
    },
  }),
  audit: (_req, p) => ({ action: 'snapshot.upload', target: null, details: p ? { bytes: p.bytes } : {} }),
};

export interface CopyRequest {
  /** Ids, prefixes or "latest"; "all" copies every snapshot. */
  snapshots: string[] | 'all';
  from: Where;
  to: Where;
}

export interface CopyPlan {
  req: CopyRequest;
  source: Target;
  target: Target;
  refs: SnapshotRef[];
}

/** Replication: snapshots to another repository, re-encrypted with its keys; only missing data is sent, re-runs copy nothing. */
export const copySnapshotsOp: JobOperation<CopyRequest, CopyPlan, CopyResult> = {
  async prepare(env, req) {
    const source = await targetOf(env, req.from);
    const target = await targetOf(env, req.to);
    if (source.location === target.location) throw new AppError('INVALID_ARGUMENT', `The snapshot is in ${target.name ?? target.location} already: copy to another destination.`);
    const refs = await env.repos.read(source, async (repo) => (req.snapshots === 'all' ? (env.inst ? await cachedSnapshots(env.inst, repo) : await listSnapshots(repo)) : await Promise.all(req.snapshots.map((s) => resolveSnapshot(env.inst, repo, s)))));
    return { req, source, target, refs };
  },
  job: (p) => ({ kind: 'copy', destination: p.target.name, params: { snapshots: p.refs.map((r) => r.id), from: p.source.name, to: p.target.name }, exclusive: [`copy:${p.target.name ?? p.target.location}`] }),
  async run(env, p, ctx) {
    return env.repos.work(p.source, (src) =>
      env.repos.work(p.target, async (dst) => {
        await src.loadIndex();
        await dst.loadIndex();
        const r = await withCodecPool(src, (srcPool) => withCodecPool(dst, (dstPool) => copySnapshots({ source: src, target: dst, decoder: srcPool, encoder: dstPool, snapshots: p.refs, ...(ctx.sink ? { sink: ctx.sink } : {}), ...(ctx.signal ? { signal: ctx.signal } : {}) })));
        if (env.inst) await cachedSnapshots(env.inst, dst).catch(() => undefined);
        ctx.log?.(`copied ${r.copied.length} snapshot(s) to ${p.target.name ?? p.target.location}, ${r.skipped.length} there already; sent ${r.storedBytesSent} bytes`);
        return r;
      }),
    );
  },
  outcome: (r) => ({ phase: 'completed', result: { copied: r.copied, skipped: r.skipped, blobsSent: r.blobsSent, bytesSent: r.bytesSent, storedBytesSent: r.storedBytesSent } }),
  audit: (req, p) => ({ action: 'snapshot.copy', target: req.snapshots === 'all' ? 'all' : req.snapshots.join(','), details: p ? { to: p.target.name ?? p.target.location } : {} }),
};
