import type { ApiResource, KubeObject } from './client.js';

/**
 * The pure core of the kubernetes kind: which resources and objects a
 * selection takes, how an object is cleaned for the snapshot, where it goes in
 * the snapshot's tree, and which cluster-scoped objects the selection needs.
 * No I/O here: table tests cover it (objects.test.ts).
 */

/** Resources never captured: runtime state the cluster makes itself, or that cannot be re-created. */
export const NEVER_CAPTURED = new Set([
  'events',
  'events.events.k8s.io',
  'endpointslices.discovery.k8s.io',
  'leases.coordination.k8s.io',
  'nodes',
  'componentstatuses',
  'bindings',
  'controllerrevisions.apps',
  'csinodes.storage.k8s.io',
  'volumeattachments.storage.k8s.io',
  'csistoragecapacities.storage.k8s.io',
  'apiservices.apiregistration.k8s.io',
  'flowschemas.flowcontrol.apiserver.k8s.io',
  'prioritylevelconfigurations.flowcontrol.apiserver.k8s.io',
  'certificatesigningrequests.certificates.k8s.io',
  'ipaddresses.networking.k8s.io',
  'servicecidrs.networking.k8s.io',
]);

export function resourceId(r: Pick<ApiResource, 'plural' | 'group'>): string {
  return r.group ? `${r.plural}.${r.group}` : r.plural;
}

/**
 * Whether a resource matches a name as operators write it: the plural
 * (`deployments`), plural.group (`deployments.apps`), the kind (`Deployment`)
 * or kind.group (`Deployment.apps`), case-insensitive; `*` matches all.
 */
export function matchesResource(r: Pick<ApiResource, 'plural' | 'group' | 'kind'>, name: string): boolean {
  const n = name.toLowerCase();
  if (n === '*') return true;
  const plural = r.plural.toLowerCase();
  const kind = r.kind.toLowerCase();
  const group = r.group.toLowerCase();
  if (n === plural || n === kind) return true;
  if (!group) return n === `${plural}.core` || n === `${kind}.core`;
  return n === `${plural}.${group}` || n === `${kind}.${group}`;
}

export interface Selection {
  includeResources?: string[] | undefined;
  excludeResources?: string[] | undefined;
}

/** The listable, re-creatable resources a selection takes (cluster-scoped ones are decided separately). */
export function selectResources(all: ApiResource[], s: Selection): ApiResource[] {
  return all.filter((r) => {
    if (!r.verbs.includes('list') || !r.verbs.includes('create')) return false;
    if (NEVER_CAPTURED.has(resourceId(r))) return false;
    if (s.includeResources?.length && !s.includeResources.some((n) => matchesResource(r, n))) return false;
    if (s.excludeResources?.some((n) => matchesResource(r, n))) return false;
    return true;
  });
}

const CLEARED_METADATA = ['uid', 'resourceVersion', 'generation', 'managedFields', 'creationTimestamp', 'selfLink', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'ownerReferences'];

/**
 * An object as a manifest: what the API server assigns or derives (status,
 * uid, resourceVersion, generation, managedFields, creationTimestamp, owner
 * references that point at uids of this cluster) is removed; the rest is kept
 * as it was served.
 */
export function clean(o: KubeObject): KubeObject {
  const { status: _status, ...rest } = o as KubeObject & { status?: unknown };
  const metadata = { ...o.metadata } as Record<string, unknown>;
  for (const k of CLEARED_METADATA) delete metadata[k];
  const annotations = { ...((metadata.annotations as Record<string, string> | undefined) ?? {}) };
  // Written by controllers about this cluster's state; re-derived after a restore.
  for (const a of ['deployment.kubernetes.io/revision', 'pv.kubernetes.io/bind-completed', 'pv.kubernetes.io/bound-by-controller', 'kubernetes.io/service-account.uid', 'pv.kubernetes.io/provisioned-by']) delete annotations[a];
  if (Object.keys(annotations).length) metadata.annotations = annotations;
  else delete metadata.annotations;
  const out: KubeObject = { ...rest, apiVersion: o.apiVersion, kind: o.kind, metadata: metadata as KubeObject['metadata'] };
  if (o.kind === 'Namespace') delete out.spec; // its finalizers are the server's
  if (o.kind === 'Secret' && (o as { type?: string }).type === 'kubernetes.io/service-account-token') delete out.data; // the token controller fills it in for this cluster
  return out;
}

/**
 * Whether an object is left out because something else re-creates it: an
 * object controlled by an owner (a ReplicaSet's pods, a Deployment's
 * ReplicaSets, a CronJob's Jobs), the CA bundle every namespace gets, or the
 * Endpoints the control plane keeps for a Service with a selector.
 */
export function recreatedByCluster(o: KubeObject, services: ReadonlyMap<string, KubeObject>): string | undefined {
  const owners = (o.metadata.ownerReferences as { kind: string; name: string; controller?: boolean }[] | undefined) ?? [];
  const controller = owners.find((x) => x.controller);
  if (controller) return `re-created by its ${controller.kind} ${controller.name}`;
  if (o.kind === 'ConfigMap' && o.metadata.name === 'kube-root-ca.crt') return 'published in every namespace by the control plane';
  if (o.kind === 'Endpoints') {
    const svc = services.get(`${o.metadata.namespace}/${o.metadata.name}`);
    if ((svc?.spec as { selector?: unknown } | undefined)?.selector) return 'kept by the control plane for its Service';
  }
  return undefined;
}

/** Where an object goes in the component's tree: resources/GROUP/VERSION/KIND/NAMESPACE/NAME.yaml. */
export function objectPath(o: Pick<KubeObject, 'apiVersion' | 'kind' | 'metadata'>): string {
  const [group, version] = o.apiVersion.includes('/') ? o.apiVersion.split('/') : ['core', o.apiVersion];
  return `resources/${group}/${version}/${o.kind}/${o.metadata.namespace ?? '_cluster'}/${o.metadata.name}.yaml`;
}

/** A PV's volume type: the one volume-source field in its spec. */
export function volumeType(pv: KubeObject): string {
  const spec = (pv.spec ?? {}) as Record<string, unknown>;
  const notSources = new Set(['accessModes', 'capacity', 'claimRef', 'mountOptions', 'nodeAffinity', 'persistentVolumeReclaimPolicy', 'storageClassName', 'volumeMode', 'volumeAttributesClassName']);
  return Object.keys(spec).find((k) => !notSources.has(k)) ?? 'unknown';
}

/** The node directory of a hostPath or local PV. */
export function volumePath(pv: KubeObject): string | undefined {
  const spec = (pv.spec ?? {}) as { hostPath?: { path?: string }; local?: { path?: string } };
  return spec.hostPath?.path ?? spec.local?.path;
}

/** Whether a node path lies under one of the allowed roots (normalised, no "..", no escape by prefix). */
export function underRoots(p: string, roots: readonly string[]): boolean {
  if (!p.startsWith('/') || p.split('/').some((s) => s === '..' || s === '.')) return false;
  const norm = p.replace(/\/+$/, '');
  return roots.some((r) => {
    const root = r.replace(/\/+$/, '');
    return norm.startsWith(root + '/');
  });
}

export interface Needs {
  /** name → why, per kind of cluster-scoped object. */
  crds: Map<string, string>;
  pvs: Map<string, string>;
  storageClasses: Map<string, string>;
  clusterRoles: Map<string, string>;
  clusterRoleBindings: Map<string, string>;
}

/**
 * The cluster-scoped objects a set of namespaced objects needs to work again:
 * the CRDs of its custom resources, the PVs bound to its claims and their
 * StorageClasses, the ClusterRoles its RoleBindings name and the
 * ClusterRoleBindings (and their roles) that grant its service accounts.
 */
export function clusterNeeds(objects: KubeObject[], customGroups: ReadonlyMap<string, string>, clusterRoleBindings: KubeObject[], pvs: ReadonlyMap<string, KubeObject>): Needs {
  const needs: Needs = { crds: new Map(), pvs: new Map(), storageClasses: new Map(), clusterRoles: new Map(), clusterRoleBindings: new Map() };
  const accounts = new Set<string>();
  for (const o of objects) {
    const crd = customGroups.get(`${o.kind}.${o.apiVersion.split('/')[0]}`);
    if (crd) needs.crds.set(crd, `defines ${o.kind}`);
    if (o.kind === 'PersistentVolumeClaim') {
      const spec = (o.spec ?? {}) as { volumeName?: string; storageClassName?: string };
      if (spec.volumeName) {
        needs.pvs.set(spec.volumeName, `bound to ${o.metadata.namespace}/${o.metadata.name}`);
        const pvClass = (pvs.get(spec.volumeName)?.spec as { storageClassName?: string } | undefined)?.storageClassName;
        if (pvClass) needs.storageClasses.set(pvClass, `class of PV ${spec.volumeName}`);
      }
      if (spec.storageClassName) needs.storageClasses.set(spec.storageClassName, `class of ${o.metadata.namespace}/${o.metadata.name}`);
    }
    if (o.kind === 'ServiceAccount') accounts.add(`${o.metadata.namespace}/${o.metadata.name}`);
    if (o.kind === 'RoleBinding') {
      const ref = o.roleRef as { kind?: string; name?: string } | undefined;
      if (ref?.kind === 'ClusterRole' && ref.name) needs.clusterRoles.set(ref.name, `bound by ${o.metadata.namespace}/${o.metadata.name}`);
    }
  }
  for (const b of clusterRoleBindings) {
    const subjects = (b.subjects as { kind: string; name: string; namespace?: string }[] | undefined) ?? [];
    if (!subjects.some((s) => s.kind === 'ServiceAccount' && accounts.has(`${s.namespace}/${s.name}`))) continue;
    needs.clusterRoleBindings.set(b.metadata.name, 'grants an included service account');
    const ref = b.roleRef as { kind?: string; name?: string } | undefined;
    if (ref?.kind === 'ClusterRole' && ref.name) needs.clusterRoles.set(ref.name, `bound by ClusterRoleBinding ${b.metadata.name}`);
  }
  return needs;
}
