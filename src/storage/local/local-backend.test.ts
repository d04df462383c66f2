import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { LocalBackend } from './local-backend.js';
import { backendConformance } from '../testing/conformance.js';

const made: string[] = [];
const scratch = () => {
  const d = mkdtempSync(path.join(tmpdir(), 'sb-local-'));
  made.push(d);
  return d;
};
after(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

backendConformance('local', async () => new LocalBackend(path.join(scratch(), 'repo')));

test('local: a put leaves no temp files behind and data lands under data/<2 hex>/', async () => {
  const dir = path.join(scratch(), 'repo');
  const b = new LocalBackend(dir);
  await b.create();
  const name = 'ab'.repeat(32);
  await b.put({ kind: 'data', name }, Buffer.from('x'));
  assert.deepEqual(readdirSync(path.join(dir, 'data', 'ab')), [name]);
});

test('local: leftover temp files of a crashed put are not listed', async () => {
  const dir = path.join(scratch(), 'repo');
  const b = new LocalBackend(dir);
  await b.create();
  writeFileSync(path.join(dir, 'index', '.tmp-deadbeef'), 'torn');
  const names: string[] = [];
  for await (const o of b.list('index')) names.push(o.name);
  assert.deepEqual(names, []);
});

test('local: names that are not hex ids are refused (no path tricks)', async () => {
  const b = new LocalBackend(scratch());
  await assert.rejects(b.get({ kind: 'data', name: '../../etc/passwd' }), /Invalid object name/);
});

test('local: an aborted streamed write leaves no temporary file behind', async () => {
  const dir = path.join(scratch(), 'repo');
  const b = new LocalBackend(dir);
  await b.create();
  const w = await b.createWriter('data');
  await w.write([Buffer.alloc(4096, 1)]);
  assert.equal(readdirSync(path.join(dir, 'data')).filter((n) => n.startsWith('.tmp-')).length, 1);
  await w.abort();
  assert.deepEqual(readdirSync(path.join(dir, 'data')).filter((n) => n.startsWith('.tmp-')), []);
});
