import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hostname } from 'node:os';
import { conflicting, isStale, type LockRecord } from './lock.js';

const now = new Date('2026-01-01T12:00:00Z');
const lock = (over: Partial<LockRecord>): LockRecord => ({ id: 'x', time: now.toISOString(), exclusive: false, host: 'h', pid: 1, username: 'u', ...over });
const alive = (pid: number) => pid !== 999;

test('stale locks: too old, or a dead process on this host', () => {
  assert.equal(isStale(lock({}), now, alive, 'h'), false);
  assert.equal(isStale(lock({ time: '2026-01-01T11:00:00Z' }), now, alive, 'h'), true);
  assert.equal(isStale(lock({ pid: 999 }), now, alive, 'h'), true);
  assert.equal(isStale(lock({ pid: 999, host: 'other' }), now, alive, 'h'), false);
});

test('conflicts: shared locks coexist, exclusive excludes everything', () => {
  const shared = lock({ id: 's' });
  const excl = lock({ id: 'e', exclusive: true });
  assert.deepEqual(conflicting({ exclusive: false }, [shared], now, alive), []);
  assert.deepEqual(conflicting({ exclusive: false }, [excl], now, alive).map((l) => l.id), ['e']);
  assert.deepEqual(conflicting({ exclusive: true }, [shared], now, alive).map((l) => l.id), ['s']);
  assert.deepEqual(conflicting({ exclusive: true }, [lock({ pid: 999, exclusive: true, host: hostname() })], now, alive), []);
});
