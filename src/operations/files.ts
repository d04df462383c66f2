import { hostname } from 'node:os';
import { resolve as resolvePath } from 'node:path';
import { backup, diffSnapshots, fileBlobs, listDirectory, listEntries, type BackupResult, type DiffResult, type Entry } from '../engine/index.js';
import type { SnapshotRef } from '../tree/index.js';
import { VERSION } from '../app/index.js';
import { AppError } from '../kernel/index.js';
import { audit, targetOf, type Caller, type Env, type RunContext, type Where } from './context.js';
import { cachedSnapshots, listSnapshots, resolveSnapshot, withCodecPool } from './repositories.js';

/**
 * Snapshots of paths on this machine (backup), and the files of any snapshot:
 * listings, single files and diffs — the same for a snapshot of paths and an
 * application snapshot, whose tree holds /APP/COMPONENT/….
 */

export interface PathsBackupRequest {
  where: Where;
  paths: string[];
  excludes: string[];
  tags: string[];
  host?: string | undefined;
  /** Compare against this snapshot instead of the latest one of the same host and paths. */
  parent?: string | undefined;
  /** Re-read every file (no parent). */
  force?: boolean | undefined;
  /** Count the files first, for an estimate of the time left. */
  estimate?: boolean | undefined;
}

export async function backupPaths(env: Env, req: PathsBackupRequest, ctx: RunContext): Promise<BackupResult> {
  const t = await targetOf(env, req.where);
  // The pool first: its workers start (each loads Node's modules and the native core) while this
  // thread loads the index and finds the parent.
  return env.repos.work(t, (repo) =>
    withCodecPool(repo, async (pool) => {
      // The index and the parent at once: on an object store both are requests.
      const findParent = async (): Promise<SnapshotRef | undefined> => {
        if (req.parent) return resolveSnapshot(env.inst, repo, req.parent);
        if (req.force) return undefined;
        const abs = JSON.stringify([...new Set(req.paths.map((p) => resolvePath(p)))].sort());
        const host = req.host ?? hostname();
        return (await listSnapshots(repo)).filter((s) => s.snapshot.host === host && JSON.stringify([...s.snapshot.paths].sort()) === abs).at(-1);
      };
      const [parent] = await Promise.all([findParent(), repo.loadIndex()]);
      const res = await backup({
        repo,
        pipeline: pool,
        paths: req.paths,
        excludes: req.excludes,
        tags: req.tags,
        ...(req.host ? { host: req.host } : {}),
        ...(parent ? { parent } : {}),
        ...(ctx.signal ? { signal: ctx.signal } : {}),
        ...(ctx.sink ? { sink: ctx.sink } : {}),
        estimate: !!req.estimate,
        program: `strongbox ${VERSION}`,
      });
      if (env.inst) await cachedSnapshots(env.inst, repo).catch(() => undefined);
      return res;
    }),
  );
}

/** The entries of a snapshot at and below a path, in order, to a callback (a listing can be huge). */
export async function listFiles(env: Env, where: Where, id: string, path: string, each: (e: Entry) => void): Promise<void> {
  const t = await targetOf(env, where);
  // Reading trees needs the index as it is now: a server's kept lookup handle may predate a prune.
  await env.repos.work(t, async (repo) => {
    const indexed = repo.loadIndex();
    indexed.catch(() => undefined); // awaited below, unless finding the snapshot fails first
    const ref = await resolveSnapshot(env.inst, repo, id);
    await indexed;
    await listEntries(repo, ref, path, each);
  });
}

export async function diff(env: Env, where: Where, a: string, b: string): Promise<DiffResult> {
  const t = await targetOf(env, where);
  return env.repos.work(t, async (repo) => {
    const ra = await resolveSnapshot(env.inst, repo, a);
    const rb = await resolveSnapshot(env.inst, repo, b);
    await repo.loadIndex();
    return diffSnapshots(repo, ra, rb);
  });
}

/** One directory of a snapshot (a browser's view). */
export async function listDirectoryOf(env: Env, where: Where, id: string, path: string): Promise<{ id: string; path: string; entries: Entry[] }> {
  const t = await targetOf(env, where);
  return env.repos.work(t, async (repo) => {
    const ref = await resolveSnapshot(env.inst, repo, id);
    await repo.loadIndex();
    return { id: ref.id, path: '/' + path.split('/').filter(Boolean).join('/'), entries: await listDirectory(repo, ref, path) };
  });
}

/** At most this many entries in one listing through the API (a listing of a huge tree is paged by directory). */
export const MAX_LISTED = 100_000;

/** Every entry at and below a path, up to MAX_LISTED (TOO_LARGE beyond: list a directory further down). */
export async function listTree(env: Env, where: Where, id: string, path: string): Promise<Entry[]> {
  const out: Entry[] = [];
  await listFiles(env, where, id, path, (e) => {
    if (out.length >= MAX_LISTED) throw new AppError('TOO_LARGE', `More than ${MAX_LISTED} entries below ${path}: list a directory further down.`);
    out.push(e);
  });
  return out;
}

/**
 * One file of a snapshot, streamed: every blob read back, decrypted and checked.
 * `consume` gets the file once it is found (a missing path or a directory is refused
 * before), and the repository stays open until it has read the data.
 */
export async function readFileOf(env: Env, where: Where, id: string, path: string, caller: Caller, consume: (f: { name: string; size: number; data: AsyncIterable<Buffer> }) => Promise<void>): Promise<void> {
  const t = await targetOf(env, where);
  await env.repos.work(t, async (repo) => {
    const ref = await resolveSnapshot(env.inst, repo, id);
    await repo.loadIndex();
    const f = await fileBlobs(repo, ref, path);
    await audit(env, caller, 'snapshot.file', ref.id, 'ok', { path: f.path, size: f.size });
    async function* data() {
      for (const b of f.blobs) yield await repo.loadBlob(Buffer.from(b, 'hex'));
    }
    await consume({ name: f.path.split('/').pop() || 'file', size: f.size, data: data() });
  });
}
