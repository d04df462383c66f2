import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compileExcludes } from './glob.js';

const table: [string[], string, boolean][] = [
  [['*.tmp'], '/a/b/c.tmp', true],
  [['*.tmp'], '/a/b/c.txt', false],
  [['cache'], '/srv/app/cache', true],
  [['/srv/app/cache/**'], '/srv/app/cache/x/y', true],
  [['/srv/app/cache/**'], '/srv/app/other', false],
  [['app/*.log'], '/srv/app/x.log', true],
  [['app/*.log'], '/srv/app/sub/x.log', false],
  [['**/node_modules'], '/a/b/node_modules', true],
  [['file?.txt'], '/x/file1.txt', true],
  [['[ab].txt'], '/x/a.txt', true],
  [['[!ab].txt'], '/x/a.txt', false],
  [[], '/anything', false],
];

for (const [pats, p, want] of table) {
  test(`exclude ${JSON.stringify(pats)} ${want ? 'matches' : 'does not match'} ${p}`, () => {
    assert.equal(compileExcludes(pats)(p, p.slice(p.lastIndexOf('/') + 1)), want);
  });
}
