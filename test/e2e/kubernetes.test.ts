import assert from 'node:assert/strict';
import { mkdirSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { describeTree, tmp } from './testing/cli.js';
import { startKube, type KubeServer } from './testing/kube.js';
import { prepareInstance } from './testing/server.js';
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

async function deleteNamespace(kube: KubeServer, ns: string): Promise<void> {
  assert.equal((await kube.api('DELETE', `/api/v1/namespaces/${ns}`)).status, 200);
  const end = Date.now() + 60_000;
  while ((await kube.api('GET', `/api/v1/namespaces/${ns}`)).status !== 404) {
    assert.ok(Date.now() < end, `namespace ${ns} was not finalized within 60 s`);
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
    const root = tmp();
    const vols = path.join(root, 'volumes');
    mkdirSync(vols);
    await seedShop(kube, 'shop', vols);
    const cli = await prepareInstance(root, { shop: shopSpec(kube.kubeconfig, 'shop', vols) });
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
    const manifest = cli.ok(['snapshot', 'cat', snap.id, '/shop/cluster/resources/apps/v1/Deployment/shop/web.yaml']);
    assert.match(manifest, /name: web/);
    assert.doesNotMatch(manifest, /resourceVersion|managedFields|uid:|creationTimestamp|status:/);

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
    assert.match(again.stderr, /namespace shop is not empty .*--map cluster\.namespace=shop:NEW/s);

    // A copy next to the original: objects in the new namespace, volumes cloned to new directories.
    const copy = await cli.runAsync(['snapshot', 'restore', snap.id, '--map', 'cluster.namespace=shop:shop-copy']);
    assert.equal(copy.code, 0, copy.stderr + copy.stdout);
    const copied = await state(kube, 'shop-copy', ['shop-data-pv-shop-copy', 'shop-cache-pv-shop-copy']);
    const expect = JSON.parse(JSON.stringify(before).replaceAll('"shop"', '"shop-copy"').replaceAll('shop-data-pv"', 'shop-data-pv-shop-copy"').replaceAll('shop-cache-pv"', 'shop-cache-pv-shop-copy"').replaceAll(`shop-data"`, 'shop-data-shop-copy"').replaceAll(`shop-cache"`, 'shop-cache-shop-copy"')) as Record<string, unknown>;
    for (const k of Object.keys(before)) if (k.startsWith('pv ')) delete expect[k];
    expect['pv shop-data-pv-shop-copy'] = JSON.parse(JSON.stringify(before['pv shop-data-pv']).replaceAll('"shop"', '"shop-copy"').replaceAll('shop-data-pv"', 'shop-data-pv-shop-copy"').replaceAll('shop-data"', 'shop-data-shop-copy"'));
    expect['pv shop-cache-pv-shop-copy'] = JSON.parse(JSON.stringify(before['pv shop-cache-pv']).replaceAll('"shop"', '"shop-copy"').replaceAll('shop-cache-pv"', 'shop-cache-pv-shop-copy"').replaceAll('shop-cache"', 'shop-cache-shop-copy"'));
    assert.deepEqual(copied, expect);
    assert.deepEqual(await describeTree(path.join(vols, 'shop-data-shop-copy')), filesBefore.data);
    assert.deepEqual(await state(kube, 'shop', pvs), before, 'the original is untouched');

    // The dry run asks the API server about every object: a quota in the target namespace rejects them.
    assert.equal((await kube.api('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop-q' } })).status, 201);
    assert.equal((await kube.api('POST', '/api/v1/namespaces/shop-q/resourcequotas', { apiVersion: 'v1', kind: 'ResourceQuota', metadata: { name: 'none' }, spec: { hard: { 'count/configmaps': '0' } } })).status, 201);
    const dry = await cli.runAsync(['snapshot', 'restore', snap.id, '--map', 'cluster.namespace=shop:shop-q', '--dry-run', '--json']);
    const plan = JSON.parse(dry.stdout) as { ok: boolean; plan: { preflight: { problems: string[]; plan: string[] } }[] };
    assert.equal(plan.ok, false, dry.stdout + dry.stderr);
    assert.ok(plan.plan[0]!.preflight.problems.some((p) => /ConfigMap shop-q\/settings: the API server would reject it: .*quota/i.test(p)), plan.plan[0]!.preflight.problems.join('\n'));
  } finally {
    await kube.stop();
  }
});
