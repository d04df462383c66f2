import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ApiResource, KubeObject } from './client.js';
import { clean, clusterNeeds, matchesResource, objectPath, recreatedByCluster, selectResources, underRoots, volumeType } from './objects.js';
import { phaseOf, planRestore } from './plan.js';

const res = (group: string, kind: string, plural: string, namespaced = true, verbs = ['list', 'get', 'create']): ApiResource => ({ group, version: 'v1', apiVersion: group ? `${group}/v1` : 'v1', kind, plural, namespaced, verbs });
const obj = (apiVersion: string, kind: string, name: string, namespace?: string, extra: Record<string, unknown> = {}): KubeObject => ({ apiVersion, kind, metadata: { name, ...(namespace ? { namespace } : {}) }, ...extra });

test('resource names match as operators write them', () => {
  const deploy = res('apps', 'Deployment', 'deployments');
  const cm = res('', 'ConfigMap', 'configmaps');
  const table: [ApiResource, string, boolean][] = [
    [deploy, 'deployments', true],
    [deploy, 'deployments.apps', true],
    [deploy, 'Deployment', true],
    [deploy, 'deployment.apps', true],
    [deploy, 'deployments.batch', false],
    [cm, 'configmaps', true],
    [cm, 'ConfigMap', true],
    [cm, 'configmaps.core', true],
    [cm, 'configmaps.apps', false],
    [cm, '*', true],
  ];
  for (const [r, n, want] of table) assert.equal(matchesResource(r, n), want, `${r.plural} vs ${n}`);
});

test('a selection takes listable, re-creatable resources, never runtime state, with includes and excludes', () => {
  const all = [res('apps', 'Deployment', 'deployments'), res('', 'ConfigMap', 'configmaps'), res('', 'Event', 'events'), res('', 'Binding', 'bindings', true, ['create']), res('example.com', 'Widget', 'widgets'), res('coordination.k8s.io', 'Lease', 'leases')];
  assert.deepEqual(selectResources(all, {}).map((r) => r.plural), ['deployments', 'configmaps', 'widgets']);
  assert.deepEqual(selectResources(all, { includeResources: ['configmaps', 'Widget.example.com'] }).map((r) => r.plural), ['configmaps', 'widgets']);
  assert.deepEqual(selectResources(all, { excludeResources: ['deployments.apps'] }).map((r) => r.plural), ['configmaps', 'widgets']);
});

test('a manifest is clean: what the server assigns is gone, the rest is kept', () => {
  const served = obj('apps/v1', 'Deployment', 'web', 'shop', {
    spec: { replicas: 2 },
    status: { readyReplicas: 2 },
  });
  Object.assign(served.metadata, { uid: 'u', resourceVersion: '7', generation: 3, managedFields: [{}], creationTimestamp: 't', labels: { app: 'shop' }, annotations: { 'deployment.kubernetes.io/revision': '4', keep: 'me' }, ownerReferences: [{ kind: 'X', name: 'y', uid: 'z' }] });
  assert.deepEqual(clean(served), { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'shop', labels: { app: 'shop' }, annotations: { keep: 'me' } }, spec: { replicas: 2 } });
  assert.equal(objectPath(served), 'resources/apps/v1/Deployment/shop/web.yaml');
  assert.equal(objectPath(obj('v1', 'PersistentVolume', 'pv-1')), 'resources/core/v1/PersistentVolume/_cluster/pv-1.yaml');
  const token = clean(obj('v1', 'Secret', 't', 'shop', { type: 'kubernetes.io/service-account-token', data: { token: 'x' } }));
  assert.equal(token.data, undefined, 'the token controller of the new cluster fills it in');
});

test('objects the cluster re-creates are left out, each with the reason', () => {
  const svc = obj('v1', 'Service', 'web', 'shop', { spec: { selector: { app: 'shop' } } });
  const bare = obj('v1', 'Service', 'ext', 'shop', { spec: {} });
  const services = new Map([['shop/web', svc], ['shop/ext', bare]]);
  const rs = obj('apps/v1', 'ReplicaSet', 'web-1', 'shop');
  rs.metadata.ownerReferences = [{ kind: 'Deployment', name: 'web', controller: true }];
  assert.match(recreatedByCluster(rs, services)!, /Deployment web/);
  const looselyOwned = obj('v1', 'ConfigMap', 'c', 'shop');
  looselyOwned.metadata.ownerReferences = [{ kind: 'Thing', name: 't' }];
  assert.equal(recreatedByCluster(looselyOwned, services), undefined, 'only a controlling owner re-creates');
  assert.ok(recreatedByCluster(obj('v1', 'ConfigMap', 'kube-root-ca.crt', 'shop'), services));
  assert.ok(recreatedByCluster(obj('v1', 'Endpoints', 'web', 'shop'), services));
  assert.equal(recreatedByCluster(obj('v1', 'Endpoints', 'ext', 'shop'), services), undefined, 'endpoints of a Service without a selector are the user\'s');
});

test('the cluster-scoped objects a selection needs', () => {
  const pvc = obj('v1', 'PersistentVolumeClaim', 'data', 'shop', { spec: { volumeName: 'pv-1', storageClassName: 'fast' } });
  const sa = obj('v1', 'ServiceAccount', 'app', 'shop');
  const rb = obj('rbac.authorization.k8s.io/v1', 'RoleBinding', 'view', 'shop', { roleRef: { kind: 'ClusterRole', name: 'view' } });
  const w = obj('example.com/v1', 'Widget', 'w', 'shop');
  const crbs = [obj('rbac.authorization.k8s.io/v1', 'ClusterRoleBinding', 'app-admin', undefined, { roleRef: { kind: 'ClusterRole', name: 'admin' }, subjects: [{ kind: 'ServiceAccount', name: 'app', namespace: 'shop' }] }), obj('rbac.authorization.k8s.io/v1', 'ClusterRoleBinding', 'other', undefined, { roleRef: { kind: 'ClusterRole', name: 'x' }, subjects: [{ kind: 'ServiceAccount', name: 'app', namespace: 'elsewhere' }] })];
  const pvs = new Map([['pv-1', obj('v1', 'PersistentVolume', 'pv-1', undefined, { spec: { storageClassName: 'slow' } })]]);
  const n = clusterNeeds([pvc, sa, rb, w], new Map([['Widget.example.com', 'widgets.example.com']]), crbs, pvs);
  assert.deepEqual([...n.crds.keys()], ['widgets.example.com']);
  assert.deepEqual([...n.pvs.keys()], ['pv-1']);
  assert.deepEqual([...n.storageClasses.keys()].sort(), ['fast', 'slow']);
  assert.deepEqual([...n.clusterRoles.keys()].sort(), ['admin', 'view']);
  assert.deepEqual([...n.clusterRoleBindings.keys()], ['app-admin']);
});

test('volume types and the roots volume data may come from and go to', () => {
  assert.equal(volumeType(obj('v1', 'PersistentVolume', 'a', undefined, { spec: { capacity: {}, accessModes: [], hostPath: { path: '/x' } } })), 'hostPath');
  assert.equal(volumeType(obj('v1', 'PersistentVolume', 'a', undefined, { spec: { capacity: {}, nfs: { server: 's', path: '/' } } })), 'nfs');
  assert.equal(volumeType(obj('v1', 'PersistentVolume', 'a', undefined, { spec: { csi: { driver: 'd' } } })), 'csi');
  const roots = ['/var/openebs/local'];
  const table: [string, boolean][] = [
    ['/var/openebs/local/pvc-1', true],
    ['/var/openebs/local', false],
    ['/var/openebs/localx/pvc', false],
    ['/var/openebs/local/../../etc', false],
    ['/etc/shadow', false],
    ['relative/path', false],
  ];
  for (const [p, want] of table) assert.equal(underRoots(p, roots), want, p);
});

test('a restore plan: dependency order, assigned fields cleared, namespaces mapped and volumes cloned next to the originals', () => {
  const objects = [
    obj('apps/v1', 'Deployment', 'web', 'shop'),
    obj('v1', 'Service', 'web', 'shop', { spec: { clusterIP: '10.0.0.7', clusterIPs: ['10.0.0.7'], type: 'NodePort', ports: [{ port: 80, nodePort: 30080 }] } }),
    obj('v1', 'Service', 'headless', 'shop', { spec: { clusterIP: 'None' } }),
    obj('v1', 'PersistentVolumeClaim', 'data', 'shop', { spec: { volumeName: 'pv-data' } }),
    obj('v1', 'PersistentVolume', 'pv-data', undefined, { spec: { hostPath: { path: '/vol/data' }, claimRef: { kind: 'PersistentVolumeClaim', namespace: 'shop', name: 'data', uid: 'old', resourceVersion: '9' } } }),
    obj('v1', 'Namespace', 'shop'),
    obj('apiextensions.k8s.io/v1', 'CustomResourceDefinition', 'widgets.example.com'),
    obj('v1', 'ConfigMap', 'settings', 'shop'),
    obj('rbac.authorization.k8s.io/v1', 'RoleBinding', 'rb', 'shop', { subjects: [{ kind: 'ServiceAccount', name: 'sa', namespace: 'shop' }] }),
    obj('example.com/v1', 'Widget', 'w', 'shop'),
  ];
  const volumes = [{ namespace: 'shop', pvc: 'data', pv: 'pv-data', type: 'hostPath', path: '/vol/data', captured: true }];
  const same = planRestore(objects, volumes, {});
  assert.deepEqual(same.objects.map((x) => x.label), ['CustomResourceDefinition widgets.example.com', 'Namespace shop', 'PersistentVolume pv-data', 'PersistentVolumeClaim shop/data', 'ConfigMap shop/settings', 'RoleBinding shop/rb', 'Service shop/headless', 'Service shop/web', 'Widget shop/w', 'Deployment shop/web']);
  const web = same.objects.find((x) => x.label === 'Service shop/web')!.object.spec as Record<string, unknown>;
  assert.deepEqual(web, { type: 'NodePort', ports: [{ port: 80 }] });
  assert.equal((same.objects.find((x) => x.label === 'Service shop/headless')!.object.spec as Record<string, unknown>).clusterIP, 'None');
  assert.deepEqual((same.objects.find((x) => x.label === 'PersistentVolume pv-data')!.object.spec as Record<string, unknown>).claimRef, { kind: 'PersistentVolumeClaim', namespace: 'shop', name: 'data' });
  assert.deepEqual(same.volumes, [{ from: 'volumes/shop/data', to: '/vol/data', namespace: 'shop', pvc: 'data', pv: 'pv-data' }]);
  assert.deepEqual(objects[1]!.spec, { clusterIP: '10.0.0.7', clusterIPs: ['10.0.0.7'], type: 'NodePort', ports: [{ port: 80, nodePort: 30080 }] }, 'the input is not changed');

  const moved = planRestore(objects, volumes, { shop: 'shop-2' });
  const labels = moved.objects.map((x) => x.label);
  assert.ok(labels.includes('Namespace shop-2') && labels.includes('Deployment shop-2/web') && labels.includes('PersistentVolume pv-data-shop-2'), labels.join(', '));
  const pv = moved.objects.find((x) => x.object.kind === 'PersistentVolume')!.object.spec as { hostPath: { path: string }; claimRef: { namespace: string } };
  assert.equal(pv.hostPath.path, '/vol/data-shop-2');
  assert.equal(pv.claimRef.namespace, 'shop-2');
  assert.equal((moved.objects.find((x) => x.object.kind === 'PersistentVolumeClaim')!.object.spec as { volumeName: string }).volumeName, 'pv-data-shop-2');
  assert.equal((moved.objects.find((x) => x.object.kind === 'RoleBinding')!.object.subjects as { namespace: string }[])[0]!.namespace, 'shop-2');
  assert.deepEqual(moved.volumes, [{ from: 'volumes/shop/data', to: '/vol/data-shop-2', namespace: 'shop-2', pvc: 'data', pv: 'pv-data-shop-2' }]);
  assert.deepEqual(moved.namespaces, ['shop-2']);
  assert.ok(phaseOf('CustomResourceDefinition') < phaseOf('Namespace') && phaseOf('Secret') < phaseOf('RoleBinding') && phaseOf('Widget') < phaseOf('Deployment'));
});
