import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { KubeServer } from './kube.js';

/**
 * A small application in a Kubernetes namespace, as a vendor would ship it:
 * a Deployment (and the ReplicaSet its controller would make), a Service, a
 * ConfigMap, a Secret, a custom resource with its CRD, a ServiceAccount with a
 * Role and RoleBinding, and two claims bound to a hostPath and a local PV
 * whose directories hold files (created here, as the node would).
 */
export async function seedShop(kube: KubeServer, ns: string, volumes: string): Promise<void> {
  const must = async (method: string, p: string, body: unknown) => {
    const r = await kube.api(method, p, body);
    if (r.status >= 300) throw new Error(`${method} ${p}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body as { metadata: { uid: string } };
  };
  const crd = await kube.api('GET', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com');
  if (crd.status === 404) {
    await must('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', {
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: 'widgets.example.com' },
      spec: {
        group: 'example.com',
        scope: 'Namespaced',
        names: { plural: 'widgets', singular: 'widget', kind: 'Widget' },
        versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', properties: { spec: { type: 'object', properties: { size: { type: 'integer' }, color: { type: 'string' } } } } } } }],
      },
    });
    for (let i = 0; i < 100; i++) {
      const g = await kube.api<{ status?: { conditions?: { type: string; status: string }[] } }>('GET', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com');
      if (g.body.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    // Discovery of the new group takes a moment.
    for (let i = 0; i < 100 && (await kube.api('GET', '/apis/example.com/v1')).status !== 200; i++) await new Promise((r) => setTimeout(r, 100));
  }
  const sc = await kube.api('GET', '/apis/storage.k8s.io/v1/storageclasses/local-storage');
  if (sc.status === 404) await must('POST', '/apis/storage.k8s.io/v1/storageclasses', { apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass', metadata: { name: 'local-storage' }, provisioner: 'kubernetes.io/no-provisioner', volumeBindingMode: 'WaitForFirstConsumer' });
  await must('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels: { team: 'shop' } } });
  const base = `/api/v1/namespaces/${ns}`;
  await must('POST', `${base}/configmaps`, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'settings', labels: { app: 'shop' } }, data: { mode: 'production', 'feature.flags': 'a,b,c' } });
  await must('POST', `${base}/secrets`, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'creds', labels: { app: 'shop' } }, type: 'Opaque', stringData: { password: 'shop-SECRET-value' } });
  await must('POST', `${base}/serviceaccounts`, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'shop-sa' } });
  await must('POST', `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/roles`, { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'shop-reader' }, rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list'] }] });
  await must('POST', `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/rolebindings`, { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'shop-reader' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'shop-reader' }, subjects: [{ kind: 'ServiceAccount', name: 'shop-sa', namespace: ns }] });
  const deploy = await must('POST', `/apis/apps/v1/namespaces/${ns}/deployments`, {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', labels: { app: 'shop' } },
    spec: { replicas: 2, selector: { matchLabels: { app: 'shop' } }, template: { metadata: { labels: { app: 'shop' } }, spec: { serviceAccountName: 'shop-sa', containers: [{ name: 'web', image: 'nginx:1.27', volumeMounts: [{ name: 'data', mountPath: '/data' }] }], volumes: [{ name: 'data', persistentVolumeClaim: { claimName: 'data' } }] } } },
  });
  // What the deployment controller would make: owned, so left out of snapshots (it is re-created).
  await must('POST', `/apis/apps/v1/namespaces/${ns}/replicasets`, {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: { name: 'web-5d8f', labels: { app: 'shop', 'pod-template-hash': '5d8f' }, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: deploy.metadata.uid, controller: true, blockOwnerDeletion: true }] },
    spec: { replicas: 2, selector: { matchLabels: { app: 'shop', 'pod-template-hash': '5d8f' } }, template: { metadata: { labels: { app: 'shop', 'pod-template-hash': '5d8f' } }, spec: { containers: [{ name: 'web', image: 'nginx:1.27' }] } } },
  });
  await must('POST', `${base}/services`, { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', labels: { app: 'shop' } }, spec: { selector: { app: 'shop' }, ports: [{ port: 80, targetPort: 8080, protocol: 'TCP' }] } });
  await must('POST', `/apis/example.com/v1/namespaces/${ns}/widgets`, { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'blue-widget' }, spec: { size: 3, color: 'blue' } });
  for (const [claim, type] of [['data', 'hostPath'], ['cache', 'local']] as const) {
    const dir = path.join(volumes, `${ns}-${claim}`);
    mkdirSync(path.join(dir, 'nested', 'deeper'), { recursive: true });
    writeFileSync(path.join(dir, 'index.html'), `<h1>${claim} of ${ns}</h1>\n`);
    writeFileSync(path.join(dir, 'nested', 'deeper', 'blob.bin'), Buffer.alloc(300_000, claim));
    const source = type === 'hostPath' ? { hostPath: { path: dir, type: 'DirectoryOrCreate' } } : { local: { path: dir }, nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: ['node-1'] }] }] } } };
    await must('POST', '/api/v1/persistentvolumes', {
      apiVersion: 'v1',
      kind: 'PersistentVolume',
      metadata: { name: `${ns}-${claim}-pv` },
      spec: { capacity: { storage: '1Gi' }, accessModes: ['ReadWriteOnce'], persistentVolumeReclaimPolicy: 'Retain', storageClassName: 'local-storage', claimRef: { namespace: ns, name: claim }, ...source },
    });
    await must('POST', `${base}/persistentvolumeclaims`, { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: claim, labels: { app: 'shop' } }, spec: { accessModes: ['ReadWriteOnce'], storageClassName: 'local-storage', volumeName: `${ns}-${claim}-pv`, resources: { requests: { storage: '1Gi' } } } });
  }
}

/** The application spec for the shop namespace. */
export function shopSpec(kubeconfig: string, ns: string, volumes: string, extra = ''): string {
  return `apiVersion: strongbox/v1
kind: Application
metadata: { name: shop, version: "2.3" }
spec:
  components:
    - name: cluster
      kubernetes:
        kubeconfig: ${kubeconfig}
        namespaces: [${ns}]
        volumeRoots: [${volumes}]
${extra}`;
}

/** An object as a comparison sees it: what the server assigns (uids, versions, addresses, status) left out. */
export function comparable(o: Record<string, unknown>): unknown {
  const c = structuredClone(o) as { metadata: Record<string, unknown>; status?: unknown; spec?: Record<string, unknown> };
  for (const k of ['uid', 'resourceVersion', 'generation', 'managedFields', 'creationTimestamp', 'annotations']) delete c.metadata[k];
  delete c.status;
  if (c.spec && 'clusterIP' in c.spec) {
    delete c.spec.clusterIP;
    delete c.spec.clusterIPs;
  }
  const ref = c.spec?.claimRef as Record<string, unknown> | undefined;
  if (ref) {
    delete ref.uid;
    delete ref.resourceVersion;
  }
  return c;
}
