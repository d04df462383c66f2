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
  ['a check that is neither a query nor a command', good.replace('      postgres:', '      checks: [{ name: x }]\n      postgres:'), /give sql and expect/, undefined],
  ['a check that is both', good.replace('      postgres:', '      checks: [{ sql: "SELECT 1", expect: rows, command: [/bin/true] }]\n      postgres:'), /a query \(sql \+ expect\) or a command, not both/, undefined],
  ['an unknown expectation', good.replace('      postgres:', '      checks: [{ sql: "SELECT 1", expect: "about 3" }]\n      postgres:'), /one of: rows, no rows/, undefined],
  ['a query check on files', good.replace('      files:', '      checks: [{ sql: "SELECT 1", expect: rows }]\n      files:'), /sql checks are queries on a restored database/, undefined],
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
    // A time no older than the limit before the snapshot (taken 2026-03-10T12:00:00Z), in the databases' spellings.
    ['within 1d of the snapshot', [['2026-03-10 01:00:00+00']], true, '2026-03-10 01:00:00+00, 11.0 h before the snapshot'],
    ['within 1d of the snapshot', [['2026-03-08 12:00:00']], false, '2026-03-08 12:00:00, 2.0 days before the snapshot'],
    ['within 2h of the snapshot', [['2026-03-10T11:30:00.000Z']], true, '2026-03-10T11:30:00.000Z, 30 min before the snapshot'],
    ['within 30min of the snapshot', [['2026-03-10 14:00:00+02']], true, '2026-03-10 14:00:00+02, not older than the snapshot'],
    ['within 1d of the snapshot', [['yesterday']], false, 'yesterday (not a time)'],
    ['within 1d of the snapshot', [], false, 'no rows (not a time)'],
  ];
  for (const [expect, rows, ok, actual] of table) assert.deepEqual(meetsExpectation(expect, rows, '2026-03-10T12:00:00Z'), { ok, actual }, `${expect} on ${JSON.stringify(rows)}`);
});

test('application checks: a command check on any kind, a freshness check on a database', () => {
  const text = good
    .replace('      files:', '      checks: [{ name: attachments, command: [/usr/local/bin/check-uploads], timeout: 2m }]\n      files:')
    .replace('      postgres:', '      checks: [{ name: fresh, sql: "SELECT max(updated) FROM notes", expect: "within 1d of the snapshot" }]\n      postgres:');
  const r = parseApplication(text);
  assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
  assert.deepEqual(components(r.spec).find((c) => c.name === 'uploads')?.checks, [{ name: 'attachments', command: ['/usr/local/bin/check-uploads'], timeout: '2m' }]);
});
