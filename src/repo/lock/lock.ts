import { hostname, userInfo } from 'node:os';
import { AppError } from '../../kernel/index.js';

/** A lock object (locks/<id>, sealed). Shared for backups, exclusive for prune. */
export interface LockInfo {
  time: string;
  exclusive: boolean;
  host: string;
  pid: number;
  username: string;
}

export interface LockRecord extends LockInfo {
  id: string;
}

/** Locks not refreshed for this long are stale (a live holder refreshes every 5 minutes). */
export const STALE_AFTER_MS = 30 * 60 * 1000;
export const REFRESH_EVERY_MS = 5 * 60 * 1000;

export function newLockInfo(exclusive: boolean, now: Date): LockInfo {
  let username = 'unknown';
  try {
    username = userInfo().username;
  } catch {
    /* no passwd entry */
  }
  return { time: now.toISOString(), exclusive, host: hostname(), pid: process.pid, username };
}

/** Pure staleness rule: old, or on this host with a dead process. */
export function isStale(lock: LockInfo, now: Date, isAlive: (pid: number) => boolean, host = hostname()): boolean {
  if (now.getTime() - Date.parse(lock.time) > STALE_AFTER_MS) return true;
  return lock.host === host && !isAlive(lock.pid);
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Pure conflict rule: which existing locks stop us from taking ours. */
export function conflicting(mine: { exclusive: boolean }, others: readonly LockRecord[], now: Date, isAlive = processAlive): LockRecord[] {
  return others.filter((o) => !isStale(o, now, isAlive) && (mine.exclusive || o.exclusive));
}

export function lockedError(conflicts: readonly LockRecord[]): AppError {
  const who = conflicts.map((c) => `${c.exclusive ? 'exclusive' : 'shared'} lock ${c.id.slice(0, 8)} by ${c.username}@${c.host} pid ${c.pid} since ${c.time}`);
  return new AppError('REPO_LOCKED', `The repository is locked: ${who.join('; ')}. Wait for it to finish, or if that process is gone run "strongbox repo unlock".`, {
    details: { locks: conflicts.map((c) => ({ ...c })) },
  });
}

