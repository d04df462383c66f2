import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadApplication, components } from './application.js';
import { isVeleroBackup, selectorText, translateVelero } from './velero.js';

const backup = `apiVersion: velero.io/v1
kind: Backup
metadata:
  name: shop-daily
  namespace: velero
  labels: { app.kubernetes.io/version: "2.3" }
spec:
  includedNamespaces: [shop, shop-jobs]
  excludedResources: [events, secrets]
  labelSelector:
    matchLabels: { app: shop }
    matchExpressions:
      - { key: tier, operator: NotIn, values: [cache] }
  includeClusterResources: true
  ttl: 720h0m0s
  storageLocation: default
  snapshotVolumes: true
  hooks: { resources: [] }
  csiSnapshotTimeout: 10m
`;

test('a Velero Backup becomes the equivalent application spec, with what was not translated', () => {
  assert.ok(isVeleroBackup(backup));
  assert.ok(!isVeleroBackup('apiVersion: strongbox/v1\nkind: Application\n'));
  const t = translateVelero(backup);
  const spec = loadApplication(t.specText);
  assert.equal(spec.metadata.name, 'shop-daily');
  assert.equal(spec.metadata.version, '2.3');
  const [c] = components(spec);
  assert.equal(c!.kind, 'kubernetes');
  assert.deepEqual(c!.options, { namespaces: ['shop', 'shop-jobs'], excludeResources: ['events', 'secrets'], labelSelector: 'app=shop,tier notin (cache)', clusterResources: true });
  assert.equal(t.untranslated.length, 5, t.untranslated.join('\n'));
  assert.ok(t.untranslated.some((u) => u.startsWith('ttl 720h0m0s') && u.includes('--ttl 30d')));
  assert.ok(t.untranslated.some((u) => u.startsWith('storageLocation default')));
  assert.ok(t.untranslated.some((u) => u.startsWith('snapshotVolumes')));
  assert.ok(t.untranslated.some((u) => u.startsWith('hooks')));
  assert.ok(t.untranslated.some((u) => u.startsWith('csiSnapshotTimeout')));
});

test('Velero selectors and defaults', () => {
  assert.equal(selectorText({ matchExpressions: [{ key: 'a', operator: 'In', values: ['x', 'y'] }, { key: 'b', operator: 'Exists' }, { key: 'c', operator: 'DoesNotExist' }] }), 'a in (x,y),b,!c');
  const all = translateVelero('apiVersion: velero.io/v1\nkind: Backup\nmetadata: { name: everything }\nspec: {}\n');
  assert.deepEqual(components(loadApplication(all.specText))[0]!.options, { namespaces: ['*'] });
  assert.deepEqual(all.untranslated, []);
  const schedule = translateVelero('apiVersion: velero.io/v1\nkind: Schedule\nmetadata: { name: nightly }\nspec:\n  schedule: "0 3 * * *"\n  template: { includedNamespaces: [shop] }\n');
  assert.deepEqual(components(loadApplication(schedule.specText))[0]!.options, { namespaces: ['shop'] });
  assert.match(schedule.untranslated[0]!, /strongbox schedule add nightly-backup --app nightly --cron "0 3 \* \* \*"/);
  assert.throws(() => translateVelero('apiVersion: velero.io/v1\nkind: Backup\nmetadata: { name: Bad_Name }\n'), /cannot name an application/);
  assert.throws(() => translateVelero('apiVersion: v1\nkind: ConfigMap\n'), /not a Velero Backup/);
});
