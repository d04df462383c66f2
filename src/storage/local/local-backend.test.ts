import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { LocalBackend } from './local-backend.js';
import { backendConformance } from '../testing/conformance.js';

backendConformance('local', async () => new LocalBackend(path.join(mkdtempSync(path.join(tmpdir(), 'sb-local-')), 'repo')));

test('local: a put leaves no temp files behind and data lands under data/<2 hex>/', async () => {
  const dir = path.join(mkdtempSync(path.join(tmpdir(), 'sb-local-')), 'repo');
  const b = new LocalBackend(dir);
  await b.create();
  const name = 'ab'.repeat(32);
  await b.put({ kind: 'data', name }, Buffer.from('x'));
  assert.deepEqual(readdirSync(path.join(dir, 'data', 'ab')), [name]);
});

test('local: leftover temp files of a crashed put are not listed', async () => {
  const dir = path.join(mkdtempSync(path.join(tmpdir(), 'sb-local-')), 'repo');
  const b = new LocalBackend(dir);
  await b.create();
  writeFileSync(path.join(dir, 'index', '.tmp-deadbeef'), 'torn');
  const names: string[] = [];
  for await (const o of b.list('index')) names.push(o.name);
  assert.deepEqual(names, []);
});

test('local: names that are not hex ids are refused (no path tricks)', async () => {
  const b = new LocalBackend(mkdtempSync(path.join(tmpdir(), 'sb-local-')));
  await assert.rejects(b.get({ kind: 'data', name: '../../etc/passwd' }), /Invalid object name/);
});
