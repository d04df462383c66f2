import { AppError } from '../kernel/index.js';
import { check, prune, rebuildIndex, stats, type CheckResult, type PruneResult, type RebuildResult, type RepoStats } from '../engine/index.js';
import { isStale, processAlive, type InitOptions, type KeyListing } from '../repo/index.js';
import { initRepository } from '../app/index.js';
import { targetOf, type Env, type RunContext, type Where } from './context.js';
import { withCodecPool, type Target } from './repositories.js';

/**
 * The repository's own upkeep, on this machine: create, check, prune, stats,
 * stale locks, index rebuild and keys. (A server runs check and prune as the
 * maintenance job: operations/maintenance.ts.)
 */

export async function createRepository(target: Omit<Target, 'name'>, o: InitOptions): Promise<{ location: string; id: string; keyId: string }> {
  const r = await initRepository(target.location, target.password, { ...o, ...(target.credentials ? { credentials: target.credentials } : {}) });
  // A network store keeps a connection open; close it so the command ends.
  await r.close();
  return { location: r.location, id: r.config.id, keyId: r.keyId };
}

export async function checkRepository(env: Env, where: Where, o: { readData: boolean | number }, ctx: RunContext): Promise<CheckResult> {
  const t = await targetOf(env, where);
  return env.repos.work(t, (repo) => withCodecPool(repo, (pool) => check({ repo, decoder: pool, readData: o.readData, ...(ctx.signal ? { signal: ctx.signal } : {}), ...(ctx.sink ? { sink: ctx.sink } : {}) })));
}

export async function pruneRepository(env: Env, where: Where, o: { dryRun: boolean; maxUnused: number }, ctx: RunContext): Promise<PruneResult> {
  const t = await targetOf(env, where);
  return env.repos.work(t, (repo) => withCodecPool(repo, (pool) => prune({ repo, decoder: pool, encoder: pool, dryRun: o.dryRun, maxUnused: o.maxUnused, ...(ctx.signal ? { signal: ctx.signal } : {}), ...(ctx.sink ? { sink: ctx.sink } : {}) })));
}

export async function repositoryStats(env: Env, where: Where): Promise<RepoStats> {
  const t = await targetOf(env, where);
  return env.repos.read(t, async (repo) => {
    await repo.loadIndex();
    return stats(repo);
  });
}

/** Removes stale locks (or, with removeAll, every lock). */
export async function unlockRepository(env: Env, where: Where, o: { removeAll: boolean }): Promise<{ removed: string[]; kept: string[] }> {
  const t = await targetOf(env, where);
  return env.repos.work(t, async (repo) => {
    const now = env.clock.now();
    const removed: string[] = [];
    const kept: string[] = [];
    for (const l of await repo.listLocks()) {
      if (o.removeAll || isStale(l, now, processAlive)) {
        await repo.removeLock(l.id);
        removed.push(l.id);
      } else kept.push(l.id);
    }
    return { removed, kept };
  });
}

export async function rebuildRepositoryIndex(env: Env, where: Where, ctx: RunContext): Promise<RebuildResult> {
  const t = await targetOf(env, where);
  return env.repos.work(t, (repo) => rebuildIndex(repo, ctx.signal));
}

export async function listKeys(env: Env, where: Where): Promise<KeyListing[]> {
  return env.repos.read(await targetOf(env, where), (repo) => repo.listKeys());
}

export async function addKey(env: Env, where: Where, password: string): Promise<{ id: string }> {
  return env.repos.work(await targetOf(env, where), async (repo) => ({ id: await repo.addKey(password) }));
}

export async function removeKey(env: Env, where: Where, prefix: string): Promise<{ removed: string }> {
  return env.repos.work(await targetOf(env, where), async (repo) => {
    const match = (await repo.listKeys()).filter((k) => k.id.startsWith(prefix));
    if (match.length === 0) throw new AppError('NOT_FOUND', `No key "${prefix}"; "strongbox repo key list" shows them.`);
    if (match.length > 1) throw new AppError('AMBIGUOUS_ID', `"${prefix}" matches several keys; give more characters.`);
    await repo.removeKey(match[0]!.id);
    return { removed: match[0]!.id };
  });
}

/** Adds a key with the new password and removes the one in use. */
export async function changePassword(env: Env, where: Where, password: string): Promise<{ id: string; removed: string }> {
  return env.repos.work(await targetOf(env, where), async (repo) => {
    const r = await repo.changePassword(password);
    return { id: r.added, removed: r.removed };
  });
}
