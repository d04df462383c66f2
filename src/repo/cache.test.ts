import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LocalCache } from './cache.js';

const id = (c: string) => c.repeat(64);

test('the local cache keeps entries by kind and name, and only names that are 64 hex digits ever become paths', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-cache-'));
  const victim = path.join(root, 'victim');
  fs.writeFileSync(victim, 'keep me');
  const cache = new LocalCache(path.join(root, 'c'), id('a'));
  cache.put('index', id('1'), Buffer.from('index one'));
  cache.put('trees', id('2'), Buffer.from('tree two'));
  assert.equal(cache.get('index', id('1'))?.toString(), 'index one');
  assert.equal(cache.get('trees', id('2'))?.toString(), 'tree two');
  assert.equal(cache.get('snapshots', id('1')), undefined, 'kinds are kept apart');
  // Names from a hostile listing: never read, written or removed.
  for (const name of ['../../victim', '../victim', `${id('1')}/../../../victim`, id('A'), '']) {
    assert.equal(cache.get('index', name), undefined);
    cache.put('index', name, Buffer.from('overwritten'));
    cache.drop('index', name);
  }
  assert.equal(fs.readFileSync(victim, 'utf8'), 'keep me');
  assert.throws(() => new LocalCache(root, '../x'), /a cache for repository id/);
  fs.rmSync(root, { recursive: true, force: true });
});

test('retain removes the entries a listing no longer names, and nothing else', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-cache-'));
  const cache = new LocalCache(root, id('b'));
  for (const n of ['1', '2', '3']) cache.put('snapshots', id(n), Buffer.from(n));
  cache.put('index', id('4'), Buffer.from('4'));
  fs.mkdirSync(path.join(root, id('b'), 'snapshots', 'not-ours'));
  fs.writeFileSync(path.join(root, id('b'), 'snapshots', `${id('7')}.0a1b2c3d.tmp`), 'a write under way');
  cache.retain('snapshots', [id('1'), id('3'), id('9')]);
  assert.deepEqual(fs.readdirSync(path.join(root, id('b'), 'snapshots')).sort(), [id('1'), id('3'), 'not-ours', `${id('7')}.0a1b2c3d.tmp`].sort());
  assert.equal(cache.get('index', id('4'))?.toString(), '4', 'other kinds are untouched');
  cache.retain('index', []);
  assert.equal(cache.get('index', id('4')), undefined);
  fs.rmSync(root, { recursive: true, force: true });
});
