import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadApplication } from '../../spec/index.js';
import type { SnapshotRef } from '../../tree/index.js';
import { planRestore, redirectsSecret, type PlanInput } from './restore-app.js';

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

// The restore plan is a pure function: every refusal of a request at once, with its code, nothing thrown.
const record = (name: string, kind: string, status: 'completed' | 'failed' = 'completed') => ({ name, kind, source: '-', status, path: `/shop/${name}`, bytes: 1, items: 1, info: {}, newBytes: 1, warnings: 0, startedAt: '2026-01-01T00:00:00Z', durationMs: 1 });
const shop = { name: 'shop', version: '1.0.0', spec: {}, status: 'completed' as const, path: '/shop', components: [record('db', 'postgres'), record('files', 'files'), record('cache', 'redis', 'failed')], hooks: [], errors: [], startedAt: '2026-01-01T00:00:00Z', durationMs: 1 };
const installed = new Map([['shop', loadApplication('apiVersion: strongbox/v1\nkind: Application\nmetadata: { name: shop, version: 1.0.0 }\nspec:\n  components:\n    - name: db\n      postgres: { url: "postgres://app@db.internal/shop", passwordFrom: { env: SHOP_DB_PASSWORD } }\n    - name: files\n      files: { path: /srv/shop }\n    - name: cache\n      redis: { url: "redis://127.0.0.1:6379", rdbPath: /var/lib/redis/dump.rdb }\n', 'shop')]]);
const ref = { id: 'ab'.repeat(32), snapshot: { type: 'application', applications: [shop] } } as unknown as SnapshotRef;

test('the restore plan: what it restores, skips and refuses, every refusal at once', () => {
  const cases: { what: string; req: Partial<PlanInput>; items?: string[]; skipped?: string[]; refusals?: [string, RegExp][] }[] = [
    { what: 'everything captured; a failed component is left out with its reason', req: {}, items: ['db', 'files'], skipped: ['cache'] },
    { what: 'one component', req: { components: ['files'] }, items: ['files'] },
    { what: 'a mapped target on the same server', req: { maps: [{ component: 'db', field: 'url', value: 'postgres://app@db.internal/shop_copy' }] }, items: ['db', 'files'] },
    {
      what: 'several wrong things, all listed',
      req: { components: ['ghost', 'cache'], maps: [{ component: 'files', field: 'url', value: 'x' }] },
      refusals: [
        ['INVALID_ARGUMENT', /--component "ghost": the snapshot has no such component; it has db, files, cache/],
        ['INVALID_ARGUMENT', /--map files\.url: a files component's target is changed by files\.path/],
        ['INVALID_ARGUMENT', /--component cache: it was not captured/],
      ],
    },
    { what: 'an application the snapshot does not have', req: { apps: ['nope'] }, refusals: [['INVALID_ARGUMENT', /no application "nope"; it has: shop/]] },
    { what: 'a credential sent to another server, by an operator', req: { maps: [{ component: 'db', field: 'url', value: 'postgres://app@evil.example/shop' }] }, refusals: [['FORBIDDEN', /another server or user/]] },
    { what: 'the same, by an admin', req: { mayRedirectSecrets: true, maps: [{ component: 'db', field: 'url', value: 'postgres://app@evil.example/shop' }] }, items: ['db', 'files'] },
  ];
  for (const c of cases) {
    const plan = planRestore({ snapshot: ref, installed, mayRedirectSecrets: false, ...c.req }, [shop]);
    assert.deepEqual(plan.refusals.map((r) => r.code), (c.refusals ?? []).map((r) => r[0]), c.what);
    (c.refusals ?? []).forEach(([, re], i) => assert.match(plan.refusals[i]!.message, re, c.what));
    if (c.items) assert.deepEqual(plan.items.map((i) => i.name), c.items, c.what);
    if (c.skipped) assert.deepEqual(plan.skipped.map((i) => i.component), c.skipped, c.what);
  }
});
