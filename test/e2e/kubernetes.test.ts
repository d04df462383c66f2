import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { parse, parseAllDocuments } from 'yaml';
import { describeTree, instanceCli, tmp } from './testing/cli.js';
import { startPostgres } from './testing/servers.js';
import { startKube, type KubeServer } from './testing/kube.js';
import { ADMIN_PASSWORD, prepareInstance, startServe } from './testing/server.js';
import { assertNoConsoleErrors, launch, signedIn } from './testing/browser.js';
import { comparable, seedShop, shopSpec } from './testing/shop-cluster.js';

// Kubernetes applications against a real API server (etcd, kube-apiserver, kube-controller-manager;
// no kubelet, so nothing depends on pods running). docs/KUBERNETES.md.

test('the test Kubernetes control plane: objects are stored and served, and a deleted namespace is finalized', async () => {
  const kube = await startKube();
  try {
    assert.equal((await kube.api('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } })).status, 201);
    const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'settings', namespace: 'shop', labels: { app: 'shop' } }, data: { mode: 'production' } };
    assert.equal((await kube.api('POST', '/api/v1/namespaces/shop/configmaps', cm)).status, 201);
    const got = await kube.api<{ data: Record<string, string> }>('GET', '/api/v1/namespaces/shop/configmaps/settings');
    assert.deepEqual(got.body.data, { mode: 'production' });
    const dry = await kube.api('POST', '/api/v1/namespaces/shop/configmaps?dryRun=All', { ...cm, metadata: { ...cm.metadata, name: 'other' } });
    assert.equal(dry.status, 201);
    assert.equal((await kube.api('GET', '/api/v1/namespaces/shop/configmaps/other')).status, 404);
    await deleteNamespace(kube, 'shop');
  } finally {
    await kube.stop();
  }
});

/** The shop namespace seeded on `kube`, and an instance (with the shop application, unless told not to). */
async function shopInstance(kube: KubeServer, withApp = true) {
  const root = tmp();
  const vols = path.join(root, 'volumes');
  mkdirSync(vols);
  await seedShop(kube, 'shop', vols);
  const cli = await prepareInstance(root, withApp ? { shop: shopSpec(kube.kubeconfig, 'shop', vols) } : {});
  return { root, vols, cli };
}

async function deleteNamespace(kube: KubeServer, ns: string): Promise<void> {
  assert.equal((await kube.api('DELETE', `/api/v1/namespaces/${ns}`)).status, 200);
  const end = Date.now() + 60_000;
  for (;;) {
    const r = await kube.api<{ status?: unknown }>('GET', `/api/v1/namespaces/${ns}`);
    if (r.status === 404) break;
    assert.ok(Date.now() < end, `namespace ${ns} was not finalized within 60 s: ${JSON.stringify(r.body.status)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** The objects of the shop application in a namespace (and its PVs), as a comparison sees them. */
async function state(kube: KubeServer, ns: string, pvs: string[]): Promise<Record<string, unknown>> {
  const paths: Record<string, string> = {
    configmap: `/api/v1/namespaces/${ns}/configmaps/settings`,
    secret: `/api/v1/namespaces/${ns}/secrets/creds`,
    serviceaccount: `/api/v1/namespaces/${ns}/serviceaccounts/shop-sa`,
    role: `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/roles/shop-reader`,
    rolebinding: `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/rolebindings/shop-reader`,
    deployment: `/apis/apps/v1/namespaces/${ns}/deployments/web`,
    service: `/api/v1/namespaces/${ns}/services/web`,
    widget: `/apis/example.com/v1/namespaces/${ns}/widgets/blue-widget`,
    'pvc data': `/api/v1/namespaces/${ns}/persistentvolumeclaims/data`,
    'pvc cache': `/api/v1/namespaces/${ns}/persistentvolumeclaims/cache`,
    namespace: `/api/v1/namespaces/${ns}`,
    crd: '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com',
    storageclass: '/apis/storage.k8s.io/v1/storageclasses/local-storage',
  };
  for (const pv of pvs) paths[`pv ${pv}`] = `/api/v1/persistentvolumes/${pv}`;
  const out: Record<string, unknown> = {};
  for (const [k, p] of Object.entries(paths)) {
    const r = await kube.api<Record<string, unknown>>('GET', p);
    assert.equal(r.status, 200, `${k} exists (${p})`);
    const c = comparable(r.body) as { spec?: Record<string, unknown>; metadata: Record<string, unknown> };
    if (k === 'namespace') delete c.spec;
    if (k === 'crd') delete (c.spec as Record<string, unknown>).conversion;
    out[k] = c;
  }
  return out;
}

interface AppSnap {
  id: string;
  status: string;
  applications: { components: { name: string; status: string; error?: string; info: Record<string, string | number | boolean>; items: number }[] }[];
}

test('kubernetes: a namespace snapshotted, deleted and restored comes back object for object and file for file; a copy goes next to it in a new namespace; a non-empty target is refused; the dry run reports what the API server would reject', async () => {
  const kube = await startKube();
  try {
    const { root, vols, cli } = await shopInstance(kube);
    const pvs = ['shop-data-pv', 'shop-cache-pv'];
    const before = await state(kube, 'shop', pvs);
    const filesBefore = { data: await describeTree(path.join(vols, 'shop-data')), cache: await describeTree(path.join(vols, 'shop-cache')) };

    const snap = cli.json<AppSnap>(['snapshot', 'create', '--app', 'shop']);
    assert.equal(snap.status, 'completed', JSON.stringify(snap.applications));
    const comp = snap.applications[0]!.components[0]!;
    assert.equal(comp.info['objects.Deployment'], 1);
    assert.equal(comp.info['objects.PersistentVolume'], 2, 'the PVs bound to its claims come along');
    assert.equal(comp.info['objects.CustomResourceDefinition'], 1, 'the CRD of its custom resource comes along');
    assert.equal(comp.info['objects.StorageClass'], 1);
    assert.equal(comp.info['objects.ReplicaSet'], undefined, 'a ReplicaSet its Deployment controls is left out');
    assert.equal(comp.info.volumes, 2);
    assert.equal(comp.info.consistent, true);
    // The manifests are in the tree by group/version/kind/namespace/name, clean.
    const ls = cli.ok(['snapshot', 'ls', snap.id, '/shop/cluster/resources/apps/v1/Deployment/shop']);
    assert.match(ls, /web\.yaml/);
    const manifest = cli.ok(['snapshot', 'dump', snap.id, '/shop/cluster/resources/apps/v1/Deployment/shop/web.yaml']);
    assert.match(manifest, /name: web/);
    assert.doesNotMatch(manifest, /resourceVersion|managedFields|uid:|creationTimestamp|status:/);

    // A restore drill never touches the cluster: manifests and volumes come back as files, every manifest parses,
    // the objects per kind are those counted at backup and every volume's bytes are verified.
    const namespacesBefore = ((await kube.api<{ items: unknown[] }>('GET', '/api/v1/namespaces')).body.items ?? []).length;
    const drill = await cli.runAsync(['drill', 'run', snap.id, '--json']);
    assert.equal(drill.code, 0, drill.stdout + drill.stderr);
    const d = JSON.parse(drill.stdout) as { status: string; components: { status: string; bytes: number; checks: { name: string; ok: boolean; actual?: string }[] }[] };
    assert.equal(d.status, 'passed');
    const checks = d.components[0]!.checks;
    assert.ok(checks.every((c) => c.ok), JSON.stringify(checks));
    assert.ok(checks.some((c) => c.name === 'objects of kind Deployment' && c.actual === '1'));
    assert.ok(checks.some((c) => c.name === 'objects of kind PersistentVolume' && c.actual === '2'));
    assert.deepEqual(checks.filter((c) => c.name.startsWith('volume ')).map((c) => c.name).sort(), ['volume shop/cache restored', 'volume shop/data restored']);
    assert.ok(d.components[0]!.bytes > 0);
    assert.equal(((await kube.api<{ items: unknown[] }>('GET', '/api/v1/namespaces')).body.items ?? []).length, namespacesBefore);

    // What changed in the cluster between two snapshots: one ConfigMap and a new claim, nothing else;
    // a claim on an NFS volume is a warning naming the type, and the component is partially captured.
    const cm = await kube.api<Record<string, unknown>>('GET', '/api/v1/namespaces/shop/configmaps/settings');
    assert.equal((await kube.api('PUT', '/api/v1/namespaces/shop/configmaps/settings', { ...cm.body, data: { mode: 'maintenance' } })).status, 200);
    assert.equal((await kube.api('POST', '/api/v1/persistentvolumes', { apiVersion: 'v1', kind: 'PersistentVolume', metadata: { name: 'shop-shared-pv' }, spec: { capacity: { storage: '1Gi' }, accessModes: ['ReadWriteMany'], nfs: { server: 'nfs.example.com', path: '/exports/shop' }, claimRef: { namespace: 'shop', name: 'shared' } } })).status, 201);
    assert.equal((await kube.api('POST', '/api/v1/namespaces/shop/persistentvolumeclaims', { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'shared' }, spec: { accessModes: ['ReadWriteMany'], storageClassName: '', volumeName: 'shop-shared-pv', resources: { requests: { storage: '1Gi' } } } })).status, 201);
    const second = await cli.runAsync(['snapshot', 'create', '--app', 'shop', '--json']);
    const snap2 = JSON.parse(second.stdout) as AppSnap;
    assert.equal(snap2.status, 'partially_failed');
    assert.equal(snap2.applications[0]!.components[0]!.status, 'partially_failed');
    assert.match(snap2.applications[0]!.components[0]!.error!, /claim shop\/shared: volume shop-shared-pv is a nfs volume; Strongbox reads the data of hostPath and local volumes only/);
    const changes = cli.ok(['snapshot', 'diff', snap.id, snap2.id]).trim().split('\n').sort();
    assert.deepEqual(changes, [
      '+  /shop/cluster/resources/core/v1/PersistentVolume/_cluster/shop-shared-pv.yaml',
      '+  /shop/cluster/resources/core/v1/PersistentVolumeClaim/shop/shared.yaml',
      '2 added, 0 removed, 2 modified',
      'M  /shop/cluster/kubernetes.json',
      'M  /shop/cluster/resources/core/v1/ConfigMap/shop/settings.yaml',
    ]);
    assert.equal((await kube.api('DELETE', '/api/v1/namespaces/shop/persistentvolumeclaims/shared')).status, 200);
    assert.equal((await kube.api('DELETE', '/api/v1/persistentvolumes/shop-shared-pv')).status, 200);
    assert.equal((await kube.api('PUT', '/api/v1/namespaces/shop/configmaps/settings', { ...(await kube.api<Record<string, unknown>>('GET', '/api/v1/namespaces/shop/configmaps/settings')).body, data: (cm.body as { data: unknown }).data })).status, 200);

    // Disaster: the namespace and the volumes' data are gone.
    await deleteNamespace(kube, 'shop');
    rmSync(path.join(vols, 'shop-data'), { recursive: true });
    rmSync(path.join(vols, 'shop-cache'), { recursive: true });
    const restored = await cli.runAsync(['snapshot', 'restore', snap.id]);
    assert.equal(restored.code, 0, restored.stderr + restored.stdout);
    assert.deepEqual(await state(kube, 'shop', pvs), before);
    assert.deepEqual(await describeTree(path.join(vols, 'shop-data')), filesBefore.data);
    assert.deepEqual(await describeTree(path.join(vols, 'shop-cache')), filesBefore.cache);
    assert.equal((await kube.api('GET', '/apis/apps/v1/namespaces/shop/replicasets/web-5d8f')).status, 404, 'the owned ReplicaSet is left to its controller');

    // The namespace is there again: a second restore is refused, naming what is in the way, and changes nothing.
    const again = cli.run(['snapshot', 'restore', snap.id]);
    assert.notEqual(again.code, 0);
    assert.match(again.stderr, /namespace shop is not empty \(.*\); restore into a new namespace with --map NAME\.namespace=shop:NEW/);
    assert.match(again.stderr, /the directory of volume shop-data-pv .* is not empty/);

    // --force restores over it: the snapshot's objects that exist are updated, and the restore says which.
    const cmNow = await kube.api<Record<string, unknown>>('GET', '/api/v1/namespaces/shop/configmaps/settings');
    assert.equal((await kube.api('PUT', '/api/v1/namespaces/shop/configmaps/settings', { ...cmNow.body, data: { mode: 'broken' } })).status, 200);
    const forced = await cli.runAsync(['snapshot', 'restore', snap.id, '--force']);
    assert.equal(forced.code, 0, forced.stderr);
    assert.match(forced.stderr + forced.stdout, /updated ConfigMap shop\/settings/);
    assert.deepEqual(((await kube.api<{ data: unknown }>('GET', '/api/v1/namespaces/shop/configmaps/settings')).body).data, { mode: 'production', 'feature.flags': 'a,b,c' });

    // A copy next to the original: objects in the new namespace, volumes cloned to new directories.
    const copy = await cli.runAsync(['snapshot', 'restore', snap.id, '--map', 'cluster.namespace=shop:shop-copy']);
    assert.equal(copy.code, 0, copy.stderr + copy.stdout);
    const copied = await state(kube, 'shop-copy', ['shop-data-pv-shop-copy', 'shop-cache-pv-shop-copy']);
    // What moving to shop-copy changes: every namespace field, the namespace's name, and the cloned volumes' names and paths.
    const moved = (v: unknown, key?: string): unknown => {
      if (Array.isArray(v)) return v.map((x) => moved(x));
      if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, moved(x, k)]));
      if (key === 'namespace' && v === 'shop') return 'shop-copy';
      if ((key === 'volumeName' || key === 'name') && typeof v === 'string' && /^shop-(data|cache)-pv$/.test(v)) return `${v}-shop-copy`;
      if (key === 'path' && typeof v === 'string' && /\/shop-(data|cache)$/.test(v)) return `${v}-shop-copy`;
      return v;
    };
    const expect: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(before)) expect[k.replace(/^pv (.*)$/, 'pv $1-shop-copy')] = moved(v);
    const nsMeta = (expect.namespace as { metadata: { name: string; labels: Record<string, string> } }).metadata;
    nsMeta.name = 'shop-copy';
    nsMeta.labels['kubernetes.io/metadata.name'] = 'shop-copy'; // the API server's own label
    assert.deepEqual(copied, expect);
    assert.deepEqual(await describeTree(path.join(vols, 'shop-data-shop-copy')), filesBefore.data);
    assert.deepEqual(await state(kube, 'shop', pvs), before, 'the original is untouched');

    // The dry run asks the API server about every object: a quota in the target namespace rejects them.
    assert.equal((await kube.api('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop-q' } })).status, 201);
    const quota = await kube.api<Record<string, unknown>>('POST', '/api/v1/namespaces/shop-q/resourcequotas', { apiVersion: 'v1', kind: 'ResourceQuota', metadata: { name: 'none' }, spec: { hard: { 'count/configmaps': '0' } } });
    assert.equal(quota.status, 201);
    // What the resource-quota controller would record (it does not run here): the quota is in force.
    const inForce = await kube.api('PUT', '/api/v1/namespaces/shop-q/resourcequotas/none/status', { ...quota.body, status: { hard: { 'count/configmaps': '0' }, used: { 'count/configmaps': '0' } } });
    assert.equal(inForce.status, 200, JSON.stringify(inForce.body));
    const dry = await cli.runAsync(['snapshot', 'restore', snap.id, '--map', 'cluster.namespace=shop:shop-q', '--dry-run', '--json']);
    const plan = JSON.parse(dry.stdout) as { ok: boolean; plan: { preflight: { problems: string[]; plan: string[] } }[] };
    assert.equal(plan.ok, false, dry.stdout + dry.stderr);
    assert.ok(plan.plan[0]!.preflight.problems.some((p) => /ConfigMap shop-q\/settings: the API server would reject it: .*quota/i.test(p)), plan.plan[0]!.preflight.problems.join('\n'));

    // Volume data goes only under the installed spec's roots, whatever the snapshot's PVs say.
    const narrow = path.join(root, 'narrow.yaml');
    writeFileSync(narrow, shopSpec(kube.kubeconfig, 'shop', path.join(root, 'elsewhere')));
    cli.ok(['app', 'add', '-f', narrow, '--replace']);
    const outside = cli.run(['snapshot', 'restore', snap.id, '--map', 'cluster.namespace=shop:shop-3']);
    assert.equal(outside.code, 4, outside.stderr);
    assert.match(outside.stderr, /volume shop-data-pv-shop-3 of shop-3\/data would be restored to .*shop-data-shop-3, outside the volume roots/);
    assert.equal((await kube.api('GET', '/api/v1/namespaces/shop-3')).status, 404, 'nothing was created');
  } finally {
    await kube.stop();
  }
});

test('kubernetes disaster recovery: a full snapshot of an instance with a Kubernetes application and a PostgreSQL one comes back on a fresh instance and a second, fresh API server', async () => {
  const kubeA = await startKube();
  const kubeB = await startKube();
  const pgA = await startPostgres();
  const pgB = await startPostgres();
  try {
    const rootA = tmp();
    const vols = path.join(rootA, 'volumes');
    mkdirSync(vols);
    await seedShop(kubeA, 'shop', vols);
    pgA.psql('postgres', 'CREATE DATABASE orders');
    pgA.psql('orders', "CREATE TABLE orders(id serial PRIMARY KEY, item text); INSERT INTO orders(item) SELECT 'order ' || g FROM generate_series(1, 2000) g");
    const a = await prepareInstance(rootA, {
      shop: shopSpec(kubeA.kubeconfig, 'shop', vols),
      orders: `apiVersion: strongbox/v1\nkind: Application\nmetadata: { name: orders, version: "1.0" }\nspec:\n  components:\n    - name: db\n      postgres: { url: "${pgA.url('orders')}" }\n`,
    });
    const pvs = ['shop-data-pv', 'shop-cache-pv'];
    const before = await state(kubeA, 'shop', pvs);
    const filesBefore = await describeTree(path.join(vols, 'shop-data'));
    const full = JSON.parse(await a.okAsync(['snapshot', 'create', '--full', '--json'])) as { id: string; status: string };
    assert.equal(full.status, 'completed');

    // The old cluster, its node and its database are gone: a fresh instance, a fresh API server.
    await kubeA.stop();
    rmSync(vols, { recursive: true });
    const rootB = tmp();
    const b = instanceCli(rootB, 'correct horse battery staple');
    await b.okAsync(['destination', 'add', 'main', path.join(rootA, 'repo')]);
    const maps = [`shop/cluster.kubeconfig=${kubeB.kubeconfig}`, `orders/db.url=${pgB.url('orders')}`];
    const r = await b.runAsync(['snapshot', 'restore', full.id.slice(0, 8), ...maps.flatMap((m) => ['--map', m])]);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.deepEqual(await state(kubeB, 'shop', pvs), before);
    assert.deepEqual(await describeTree(path.join(vols, 'shop-data')), filesBefore);
    const rows = (pg: typeof pgA) => pg.psql('orders', "SELECT count(*) || ' ' || md5(string_agg(item, ',' ORDER BY id)) FROM orders");
    assert.equal(rows(pgB), rows(pgA));
    // The application now points at the new cluster: its next snapshot backs it up.
    assert.match(b.ok(['app', 'show', 'shop']), new RegExp(kubeB.kubeconfig.replaceAll('/', '\\/')));
    const next = JSON.parse(await b.okAsync(['snapshot', 'create', '--app', 'shop', '--json'])) as { status: string; applications: { components: { info: Record<string, unknown> }[] }[] };
    assert.equal(next.status, 'completed');
    assert.equal(next.applications[0]!.components[0]!.info['objects.Deployment'], 1);
  } finally {
    await kubeA.stop();
    await kubeB.stop();
    pgA.stop();
    pgB.stop();
  }
});

/** The objects of deploy/kubernetes, in the kustomization's order. */
function deployObjects(): Record<string, unknown>[] {
  const dir = path.resolve(import.meta.dirname, '../../../deploy/kubernetes');
  const k = parse(readFileSync(path.join(dir, 'kustomization.yaml'), 'utf8')) as { resources: string[] };
  return k.resources.flatMap((f) => parseAllDocuments(readFileSync(path.join(dir, f), 'utf8')).map((d) => d.toJS() as Record<string, unknown>));
}

function collectionOf(o: { apiVersion: string; kind: string; metadata: { namespace?: string } }): string {
  const plural = `${o.kind.toLowerCase()}${o.kind.endsWith('s') ? 'es' : 's'}`.replace(/ys$/, 'ies');
  const base = o.apiVersion.includes('/') ? `/apis/${o.apiVersion}` : `/api/${o.apiVersion}`;
  return o.metadata.namespace ? `${base}/namespaces/${o.metadata.namespace}/${plural}` : `${base}/${plural}`;
}

test('deploy/kubernetes applies to a real API server with strict validation; its read-only role takes snapshots, and restores need the restore role', async () => {
  const kube = await startKube();
  try {
    const objects = deployObjects();
    assert.deepEqual(objects.map((o) => o.kind).sort(), ['ClusterRole', 'ClusterRole', 'ClusterRoleBinding', 'ClusterRoleBinding', 'Deployment', 'Namespace', 'PersistentVolumeClaim', 'Service', 'ServiceAccount']);
    for (const o of objects) {
      const r = await kube.api('POST', `${collectionOf(o as never)}?fieldValidation=Strict`, o);
      assert.equal(r.status, 201, `${String(o.kind)}: ${JSON.stringify(r.body)}`);
    }
    // Strongbox's own service account, as the pod would use it, without the restore role at first.
    assert.equal((await kube.api('DELETE', '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/strongbox-restore')).status, 200);
    const tr = await kube.api<{ status: { token: string } }>('POST', '/api/v1/namespaces/strongbox/serviceaccounts/strongbox/token', { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 3600 } });
    assert.equal(tr.status, 201, JSON.stringify(tr.body));
    const root = tmp();
    const kubeconfig = path.join(root, 'strongbox-sa.kubeconfig');
    writeFileSync(kubeconfig, readFileSync(kube.kubeconfig, 'utf8').replace(kube.token, tr.body.status.token));
    const vols = path.join(root, 'volumes');
    mkdirSync(vols);
    await seedShop(kube, 'shop', vols);
    const cli = await prepareInstance(root, { shop: shopSpec(kubeconfig, 'shop', vols) });
    const snap = JSON.parse(await cli.okAsync(['snapshot', 'create', '--app', 'shop', '--json'])) as { id: string; status: string; applications: { components: { info: Record<string, unknown> }[] }[] };
    assert.equal(snap.status, 'completed', JSON.stringify(snap.applications));
    assert.equal(snap.applications[0]!.components[0]!.info['objects.Secret'], 1, 'the read-only role reads secrets');
    await deleteNamespace(kube, 'shop');
    rmSync(path.join(vols, 'shop-data'), { recursive: true });
    rmSync(path.join(vols, 'shop-cache'), { recursive: true });
    const denied = await cli.runAsync(['snapshot', 'restore', snap.id]);
    assert.equal(denied.code, 4, denied.stderr);
    assert.match(denied.stderr, /would reject it: .*forbidden/i);
    const binding = objects.find((o) => o.kind === 'ClusterRoleBinding' && (o.metadata as { name: string }).name === 'strongbox-restore')!;
    assert.equal((await kube.api('POST', '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', binding)).status, 201);
    let restored = await cli.runAsync(['snapshot', 'restore', snap.id]);
    // The authorizer sees a new binding within a moment.
    for (let i = 0; i < 20 && restored.code === 4; i++) {
      await new Promise((r) => setTimeout(r, 250));
      restored = await cli.runAsync(['snapshot', 'restore', snap.id]);
    }
    assert.equal(restored.code, 0, restored.stderr);
    assert.equal((await kube.api('GET', '/apis/example.com/v1/namespaces/shop/widgets/blue-widget')).status, 200);
  } finally {
    await kube.stop();
  }
});

test('a Velero Backup manifest added as an application is translated, says what was not, and snapshots the same selection', async () => {
  const kube = await startKube();
  try {
    const { root, cli } = await shopInstance(kube, false);
    const manifest = path.join(root, 'velero-backup.yaml');
    writeFileSync(manifest, `apiVersion: velero.io/v1\nkind: Backup\nmetadata:\n  name: shop-daily\n  namespace: velero\nspec:\n  includedNamespaces: [shop]\n  excludedResources: [secrets]\n  labelSelector:\n    matchLabels: { app: shop }\n  ttl: 168h0m0s\n  storageLocation: default\n`);
    const added = cli.ok(['app', 'add', '-f', manifest]);
    assert.match(added, /Translated the velero\.io\/v1 Backup shop-daily/);
    assert.match(added, /ttl 168h0m0s: retention belongs to a schedule: strongbox schedule add shop-daily-backup --app shop-daily --cron daily --ttl 7d/);
    assert.match(added, /Added application shop-daily/);
    const spec = cli.ok(['app', 'show', 'shop-daily']);
    assert.match(spec, /labelSelector: app=shop/);
    // The kubeconfig comes from the environment, as kubectl's does.
    const partial = await cli.runAsync(['snapshot', 'create', '--app', 'shop-daily', '--json'], { KUBECONFIG: kube.kubeconfig });
    assert.notEqual(partial.code, 0, 'a partial snapshot does not exit 0');
    const snap = JSON.parse(partial.stdout) as { status: string; applications: { components: { status: string; error?: string; info: Record<string, unknown> }[] }[] };
    const info = snap.applications[0]!.components[0]!.info;
    assert.equal(info['objects.Secret'], undefined, 'secrets excluded');
    assert.equal(info['objects.ConfigMap'], 1, 'the labelled ConfigMap');
    assert.equal(info['objects.ServiceAccount'], undefined, 'not labelled app=shop');
    // Its claims' volumes are outside the default volume roots: each is a warning, the component partially captured.
    assert.equal(snap.applications[0]!.components[0]!.status, 'partially_failed');
    assert.match(snap.applications[0]!.components[0]!.error!, /outside the volume roots/);
  } finally {
    await kube.stop();
  }
});

test('the console shows a kubernetes component\'s selection and counts by kind, and restores it into a new namespace with live progress of objects and volume bytes', async () => {
  const kube = await startKube();
  const browser = await launch();
  let srv: Awaited<ReturnType<typeof startServe>> | undefined;
  try {
    const { root, vols, cli } = await shopInstance(kube);
    const id = (await cli.okAsync(['snapshot', 'create', '--app', 'shop', '-q'])).trim();
    srv = await startServe(root);
    const page = await signedIn(browser, srv.url, 'admin', ADMIN_PASSWORD);
    const selection = page.getByLabel('Kubernetes selection of cluster');
    await selection.getByText(/Deployment 1/).waitFor({ timeout: 20000 });
    const text = await selection.innerText();
    assert.match(text, /cluster: current context: namespace shop/);
    assert.match(text, /PersistentVolume 2/);
    assert.match(text, /2 volume\(s\)/);

    await page.goto(`${srv.url}/#/snapshot/${id}`);
    assert.match(await page.getByLabel('Kubernetes objects of cluster').innerText(), /CustomResourceDefinition 1/);

    await page.goto(`${srv.url}/#/restore/${id}`);
    await page.getByLabel(/Restore cluster to new namespaces/).fill('shop:shop-web');
    await page.getByRole('button', { name: 'Check (dry run)' }).click();
    await page.getByRole('heading', { name: 'The preflight passed' }).waitFor({ timeout: 30000 });
    await page.getByLabel('Type shop to restore').fill('shop');
    await page.getByRole('button', { name: 'Restore now' }).click();
    await page.getByRole('status').filter({ hasText: 'completed' }).waitFor({ timeout: 60000 });
    const row = await page.getByRole('table', { name: 'Components' }).getByRole('row', { name: /shop\/cluster/ }).innerText();
    const cells = row.split('\t').map((c) => c.trim());
    assert.equal(cells[2], 'completed', row);
    assert.match(cells[3]!, /KiB|MiB/, `volume bytes: ${row}`);
    assert.equal(Number(cells[4]), 13, `objects created: the 15 of the snapshot but the CRD and StorageClass, which exist and are kept: ${row}`);
    assert.equal((await kube.api('GET', '/apis/apps/v1/namespaces/shop-web/deployments/web')).status, 200);
    assert.deepEqual(await describeTree(path.join(vols, 'shop-data-shop-web')), await describeTree(path.join(vols, 'shop-data')));
    assertNoConsoleErrors();
  } finally {
    await srv?.stop();
    await browser.close();
    await kube.stop();
  }
});
