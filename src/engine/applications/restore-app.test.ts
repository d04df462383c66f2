import assert from 'node:assert/strict';
import { test } from 'node:test';
import { redirectsSecret } from './restore-app.js';

test('which --map changes would send a stored credential elsewhere (admin-only)', () => {
  const pg = { url: 'postgres://app@db.internal:5432/notes', passwordFrom: { env: 'NOTES_DB_PASSWORD' } };
  const cases: [string, Record<string, unknown>, Record<string, unknown>, RegExp | undefined][] = [
    ['another database on the same server', pg, { ...pg, url: 'postgres://app@db.internal:5432/notes_copy' }, undefined],
    ['another host', pg, { ...pg, url: 'postgres://app@evil.example:5432/notes' }, /another server or user/],
    ['another port', pg, { ...pg, url: 'postgres://app@db.internal:6543/notes' }, /another server or user/],
    ['another user', pg, { ...pg, url: 'postgres://admin@db.internal:5432/notes' }, /another server or user/],
    ['another password source', pg, { ...pg, passwordFrom: { file: '/etc/hostname' } }, /where the password comes from/],
    ['a new password where there was none', { url: 'redis://127.0.0.1:6379' }, { url: 'redis://127.0.0.1:6379', passwordFrom: { env: 'X' } }, /where the password comes from/],
    ['no credential at all: any host', { url: 'redis://127.0.0.1:6379' }, { url: 'redis://10.1.1.1:6379' }, undefined],
    ['a directory', { path: '/srv/a' }, { path: '/srv/b' }, undefined],
  ];
  for (const [what, before, after, want] of cases) {
    const got = redirectsSecret(before, after);
    if (want === undefined) assert.equal(got, undefined, what);
    else assert.match(got ?? '', want, what);
  }
});
