import assert from 'node:assert/strict';
import { test } from 'node:test';
import { manifestProblems } from './foreign.js';
import type { Snapshot, SnapshotRef } from '../tree/index.js';

const now = new Date('2026-12-01T12:00:00Z');
const base: Snapshot = { version: 1, time: '2026-11-30T00:00:00Z', host: 'h', username: 'u', paths: ['/x'], tags: [], tree: 'a'.repeat(64), partial: false, warnings: [], warningCount: 0, summary: { files: 1, dirs: 0, bytes: 1, newFiles: 1, changedFiles: 0, unchangedFiles: 0, newBytes: 1, storedBytes: 1, durationMs: 1 }, program: 'strongbox' };
const ref = (over: Record<string, unknown>): SnapshotRef => ({ id: 'f'.repeat(64), snapshot: { ...base, ...over } as Snapshot });

test('manifest sanity: what ordering, retention and restore rely on', () => {
  const cases: [string, Record<string, unknown>, RegExp | null][] = [
    ['a sane manifest', {}, null],
    ['within a day of clock skew', { time: '2026-12-02T06:00:00Z' }, null],
    ['in the future', { time: '2999-01-01T00:00:00Z' }, /in the future/],
    ['not a time', { time: 'yesterday' }, /not a plausible time/],
    ['before 2000', { time: '1970-01-01T00:00:00Z' }, /not a plausible time/],
    ['an unknown status', { status: 'great' }, /unknown status/],
    ['an unknown type', { type: 'evil' }, /unknown type/],
    ['a malformed tree id', { tree: '../../x' }, /malformed tree id/],
    ['a bad application name', { applications: [{ name: 'Bad Name', components: [] }] }, /malformed application records/],
    ['no summary', { summary: undefined }, /malformed summary/],
  ];
  for (const [what, over, want] of cases) {
    const got = manifestProblems(ref(over), now);
    if (want === null) assert.deepEqual(got, [], what);
    else assert.ok(got.some((p) => want.test(p)), `${what}: ${JSON.stringify(got)}`);
  }
});
