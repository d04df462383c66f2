import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { installedFile, OWN_MODULE_DIRS, ownModule } from './install.js';

test("this installation's files are found from the package's root; run from tsc's output, a worker's module is tsc's too", () => {
  assert.equal((JSON.parse(readFileSync(installedFile('package.json'), 'utf8')) as { name: string }).name, 'strongbox');
  const worker = ownModule('repo/workers/codec-worker.js', 'codec-worker');
  assert.equal(worker.href, installedFile('dist/src/repo/workers/codec-worker.js').href);
  assert.ok(existsSync(fileURLToPath(worker)));
  assert.ok(OWN_MODULE_DIRS.some((d) => worker.href.startsWith(d)));
  assert.ok(!OWN_MODULE_DIRS.some((d) => installedFile('node_modules/x/index.js').href.startsWith(d)), 'nothing from node_modules');
});
