import { hostname } from 'node:os';
import { resolve as resolvePath } from 'node:path';
import { backup, diffSnapshots, listEntries, type BackupResult, type DiffResult, type Entry } from '../engine/index.js';
import type { SnapshotRef } from '../tree/index.js';
import { VERSION } from '../app/index.js';
import { targetOf, type Env, type RunContext, type Where } from './context.js';
import { cachedSnapshots, listSnapshots, resolveSnapshot, withCodecPool } from './repositories.js';

/**
 * Snapshots of paths on this machine: backup, browsing and diff. They read or
 * write this machine's files, so they run where the command runs, never
 * through a server.
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
  return env.repos.work(t, async (repo) => {
    await repo.loadIndex();
    let parent: SnapshotRef | undefined;
    if (req.parent) parent = await resolveSnapshot(env.inst, repo, req.parent);
    else if (!req.force) {
      const abs = JSON.stringify([...new Set(req.paths.map((p) => resolvePath(p)))].sort());
      const host = req.host ?? hostname();
      const same = (await listSnapshots(repo)).filter((s) => s.snapshot.host === host && JSON.stringify([...s.snapshot.paths].sort()) === abs);
      parent = same.at(-1);
    }
    const res = await withCodecPool(repo, (pool) =>
      backup({
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
      }),
    );
    if (env.inst) await cachedSnapshots(env.inst, repo).catch(() => undefined);
    return res;
  });
}

/** The entries of a snapshot at and below a path, in order, to a callback (a listing can be huge). */
export async function listFiles(env: Env, where: Where, id: string, path: string, each: (e: Entry) => void): Promise<void> {
  const t = await targetOf(env, where);
  await env.repos.read(t, async (repo) => {
    const ref = await resolveSnapshot(env.inst, repo, id);
    await repo.loadIndex();
    await listEntries(repo, ref, path, each);
  });
}

export async function diff(env: Env, where: Where, a: string, b: string): Promise<DiffResult> {
  const t = await targetOf(env, where);
  return env.repos.read(t, async (repo) => {
    const ra = await resolveSnapshot(env.inst, repo, a);
    const rb = await resolveSnapshot(env.inst, repo, b);
    await repo.loadIndex();
    return diffSnapshots(repo, ra, rb);
  });
}
