import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { LocalBackend } from '../../src/storage/local/local-backend.js';
import { Repository } from '../../src/repo/repository.js';
import { STALE_AFTER_MS } from '../../src/repo/lock/lock.js';
import type { AppError } from '../../src/kernel/index.js';

test('a holder whose lock may have been lost stops: refresh overdue, or its lock object removed', async () => {
  const repo = await Repository.init(new LocalBackend(path.join(mkdtempSync(path.join(tmpdir(), 'sb-lock-')), 'repo')), 'pw', { scrypt: { N: 1024, r: 8, p: 1 } });
  let t = Date.parse('2026-01-01T00:00:00Z');
  const clock = () => new Date(t);
  const lock = await repo.lock(false, clock);
  await lock.assertHeld();
  // No refresh for most of the stale period (a paused machine, a store that refuses writes).
  t += STALE_AFTER_MS - 5 * 60e3;
  await assert.rejects(lock.assertHeld(), /last refreshed 25 minute\(s\) ago/);
  await lock.release();

  const second = await repo.lock(false, clock);
  await second.assertHeld();
  await repo.removeLock(second.id);
  await assert.rejects(second.assertHeld(), /was removed from the repository/);
});

test('a lock that conflicts is refused and leaves nothing behind; shared locks coexist', async () => {
  const repo = await Repository.init(new LocalBackend(path.join(mkdtempSync(path.join(tmpdir(), 'sb-lock-')), 'repo')), 'pw', { scrypt: { N: 1024, r: 8, p: 1 } });
  const names = async () => (await repo.listNames('locks')).sort();

  const a = await repo.lock(false);
  const b = await repo.lock(false);
  assert.deepEqual(await names(), [a.id, b.id].sort(), 'two shared locks');
  await assert.rejects(repo.lock(true), (err: AppError) => err.code === 'REPO_LOCKED' && /shared lock/.test(err.message));
  assert.deepEqual(await names(), [a.id, b.id].sort(), 'the refused exclusive lock removed its own object');
  await a.release();
  await b.release();

  const x = await repo.lock(true);
  await assert.rejects(repo.lock(false), (err: AppError) => err.code === 'REPO_LOCKED' && /exclusive lock/.test(err.message));
  await assert.rejects(repo.lock(true), (err: AppError) => err.code === 'REPO_LOCKED');
  assert.deepEqual(await names(), [x.id]);
  await x.release();
  assert.deepEqual(await names(), []);
});
