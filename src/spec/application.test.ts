import { test } from 'node:test';
import assert from 'node:assert/strict';
import { components, parseApplication } from './application.js';

const good = `apiVersion: strongbox/v1
kind: Application
metadata: { name: notes, version: 1.4.2 }
spec:
  components:
    - name: db
      postgres: { url: "postgres://notes@127.0.0.1:5432/notes", passwordFrom: { env: NOTES_DB_PASSWORD } }
    - name: uploads
      files: { path: /var/lib/notes/uploads, exclude: ["**/*.tmp"] }
    - name: sessions
      redis: { url: "redis://127.0.0.1:6379/0" }
    - name: index
      command: { backup: ["notes-ctl", "export-index"], restore: ["notes-ctl", "import-index"] }
  hooks:
    preBackup:  [{ name: freeze, exec: ["notes-ctl", "maintenance", "on"], timeout: 30s, onError: fail }]
    postBackup: [{ name: thaw, exec: ["notes-ctl", "maintenance", "off"] }]
    postRestore: [{ name: reindex, exec: ["notes-ctl", "reindex"], onError: continue }]
`;

test('the issue\'s example spec is valid and yields its components in order', () => {
  const r = parseApplication(good);
  assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
  assert.deepEqual(
    components(r.spec).map((c) => [c.name, c.kind]),
    [
      ['db', 'postgres'],
      ['uploads', 'files'],
      ['sessions', 'redis'],
      ['index', 'command'],
    ],
  );
});

const cases: [string, string, RegExp, number | undefined][] = [
  ['an unknown kind', good.replace('redis: { url: "redis://127.0.0.1:6379/0" }', 'mongodb: { url: "mongodb://x" }'), /unknown component kind or field "mongodb"/, 11],
  ['a password in a URL', good.replace('notes@127', 'notes:secret@127'), /do not put a password in the URL/, 7],
  ['a missing version', good.replace(', version: 1.4.2', ''), /metadata\.version: required/, 3],
  ['a bad name', good.replace('name: notes', 'name: Notes_App'), /metadata\.name: use lowercase/, 3],
  ['two kinds in one component', good.replace('files: { path: /var/lib/notes/uploads, exclude: ["**/*.tmp"] }', 'files: { path: /x }\n      sqlite: { path: /y.db }'), /has files and sqlite/, 8],
  ['a duplicate component', good.replace('name: uploads', 'name: db'), /"db" is used twice/, 8],
  ['a bad timeout', good.replace('timeout: 30s', 'timeout: soon'), /duration/, 15],
  ['broken YAML', good.replace('  components:', '  components: [\n'), /not valid YAML/, undefined],
  ['a relative path', good.replace('/var/lib/notes/uploads', 'uploads'), /absolute path/, 9],
  ['a wrong apiVersion', good.replace('strongbox/v1', 'v2'), /apiVersion/, 1],
];

for (const [what, text, message, line] of cases) {
  test(`a spec with ${what} is refused with the line`, () => {
    const r = parseApplication(text);
    assert.equal(r.ok, false);
    if (r.ok) return;
    const p = r.problems.find((x) => message.test(`${x.path}: ${x.message}`));
    assert.ok(p, `expected ${message} in ${JSON.stringify(r.problems)}`);
    if (line !== undefined) assert.equal(p.line, line, JSON.stringify(p));
  });
}

test('application checks: what a query must return', async () => {
  const { meetsExpectation } = await import('./application.js');
  const table: [string, string[][], boolean, string][] = [
    ['rows', [['1']], true, '1'],
    ['rows', [], false, 'no rows'],
    ['no rows', [], true, 'no rows'],
    ['>= 1', [['5']], true, '5'],
    ['>= 1', [['0']], false, '0'],
    ['= 0', [['0']], true, '0'],
    ['> 100', [['100']], false, '100'],
    ['!= 3', [['4'], ['9']], true, '2 rows, the first value 4'],
    ['< 10', [['abc']], false, 'abc'],
    ['>= 1', [], false, 'no rows'],
  ];
  for (const [expect, rows, ok, actual] of table) assert.deepEqual(meetsExpectation(expect, rows), { ok, actual }, `${expect} on ${JSON.stringify(rows)}`);
});
