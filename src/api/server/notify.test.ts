import assert from 'node:assert/strict';
import { test } from 'node:test';
import { classify } from './notify.js';
import type { JobRecord } from '../../jobs/index.js';

const job = (phase: string): JobRecord => ({ id: phase, kind: 'backup', app: 'notes', destination: null, phase, params: {}, progress: { bytes: 0, newBytes: 0, items: 0, rate: 0, components: [] }, result: null, warnings: [], errors: [], requestedBy: 'admin', scheduleId: null, createdAt: '', startedAt: null, finishedAt: null }) as unknown as JobRecord;

test('notification classes: what a finished job is, given the one before it', () => {
  const cases: [string, string | undefined, string | undefined][] = [
    ['failed', undefined, 'failure'],
    ['failed', 'completed', 'failure'],
    ['partially_failed', 'completed', 'partial'],
    ['completed', undefined, 'success'],
    ['completed', 'completed', 'success'],
    ['completed', 'failed', 'recovery'],
    ['completed', 'partially_failed', 'recovery'],
    ['canceled', 'failed', undefined],
    ['running', undefined, undefined],
  ];
  for (const [phase, previous, want] of cases) assert.equal(classify(job(phase), previous ? job(previous) : undefined), want, `${phase} after ${previous ?? 'nothing'}`);
});
