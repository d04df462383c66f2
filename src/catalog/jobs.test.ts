import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { emptyProgress, type JobRecord } from '../jobs/index.js';
import { openCatalog } from './database.js';
import { CatalogJobStore } from './jobs.js';

function job(id: string, createdAt: string, phase: JobRecord['phase']): JobRecord {
  return { id, kind: 'backup', app: 'a', destination: null, phase, params: {}, progress: emptyProgress(), result: null, warnings: [], errors: [], requestedBy: 't', scheduleId: null, createdAt, startedAt: null, finishedAt: null };
}

test('catalog jobs: old finished jobs and their logs are forgotten; unfinished and recent ones stay', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sb-cat-'));
  const db = await openCatalog(join(dir, 'catalog.sqlite'));
  try {
    const store = new CatalogJobStore(db);
    await store.insert(job('old-done', '2026-01-01T00:00:00Z', 'completed'));
    await store.insert(job('old-failed', '2026-01-02T00:00:00Z', 'failed'));
    await store.insert(job('old-running', '2026-01-03T00:00:00Z', 'running'));
    await store.insert(job('new-done', '2026-06-01T00:00:00Z', 'completed'));
    await store.appendLog('old-done', [{ seq: 1, time: '2026-01-01T00:00:01Z', line: 'x' }]);
    assert.equal(await store.pruneFinished('2026-03-01T00:00:00Z'), 2);
    assert.deepEqual((await store.list()).map((j) => j.id).sort(), ['new-done', 'old-running']);
    assert.deepEqual(await store.log('old-done'), []);
  } finally {
    await db.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
});
