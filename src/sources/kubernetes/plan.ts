import type { KubeObject } from './client.js';
import { clean, volumePath } from './objects.js';

/**
 * The pure core of a Kubernetes restore: objects renamed into their target
 * namespaces, fields the API server assigns cleared, and the order they are
 * created in; and where each volume's data goes. Table tests: plan.test.ts.
 */

/** A captured volume, as the snapshot's kubernetes.json records it. */
export interface CapturedVolume {
  namespace: string;
  pvc: string;
  pv: string;
  type: string;
  /** The node path at backup (hostPath or local), absent when not captured. */
  path?: string;
  captured: boolean;
}

export interface PlannedObject {
  object: KubeObject;
  /** Creation phase: lower first (0 CRDs … 6 workloads). */
  phase: number;
  /** Kind namespace/name as it will be in the cluster. */
  label: string;
}

export interface PlannedVolume {
  /** In the component's tree: volumes/NAMESPACE/PVC. */
  from: string;
  /** The node path its data goes to (before hostRoot). */
  to: string;
  namespace: string;
  pvc: string;
  pv: string;
}

const PHASES: [number, string[]][] = [
  [0, ['CustomResourceDefinition']],
  [1, ['Namespace']],
  [2, ['StorageClass', 'PersistentVolume', 'PersistentVolumeClaim']],
  [3, ['ConfigMap', 'Secret', 'LimitRange', 'ResourceQuota']],
  [4, ['ServiceAccount', 'Role', 'ClusterRole', 'RoleBinding', 'ClusterRoleBinding']],
  [6, ['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'ReplicationController', 'Job', 'CronJob', 'Pod']],
];

/** CRDs and namespaces first, then storage, config and secrets, service accounts and RBAC, other objects (services, custom resources), then workloads. */
export function phaseOf(kind: string): number {
  for (const [n, kinds] of PHASES) if (kinds.includes(kind)) return n;
  return 5;
}

export function labelOf(o: Pick<KubeObject, 'kind' | 'metadata'>): string {
  return `${o.kind} ${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name}`;
}

/** Kubernetes names are at most 253 characters; a clone's suffix must fit. */
function suffixed(name: string, suffix: string, max = 253): string {
  return name.slice(0, max - suffix.length - 1) + '-' + suffix;
}

export interface RestorePlan {
  objects: PlannedObject[];
  volumes: PlannedVolume[];
  /** Target namespaces (after mapping). */
  namespaces: string[];
  /** What the mapping changed beyond namespaces, in words (cloned PVs, bindings). */
  notes: string[];
}

/**
 * Plans a restore. `map` sends namespace OLD to NEW. A PV bound to a claim in
 * a mapped namespace is a clone next to the original: its name and node path
 * get the new namespace as suffix, so the original volume is never written;
 * bindings that grant a mapped service account are cloned the same way.
 */
export function planRestore(objects: KubeObject[], volumes: CapturedVolume[], map: Readonly<Record<string, string>>): RestorePlan {
  const ns = (n: string | undefined) => (n === undefined ? undefined : (map[n] ?? n));
  const notes: string[] = [];
  const pvRename = new Map<string, { name: string; path?: string | undefined }>();
  for (const o of objects) {
    if (o.kind !== 'PersistentVolume') continue;
    const claim = (o.spec as { claimRef?: { namespace?: string } } | undefined)?.claimRef;
    const to = claim?.namespace ? map[claim.namespace] : undefined;
    if (to && to !== claim?.namespace) {
      const path = volumePath(o);
      pvRename.set(o.metadata.name, { name: suffixed(o.metadata.name, to), ...(path ? { path: `${path.replace(/\/+$/, '')}-${to}` } : {}) });
    }
  }
  // A volume whose PV is not in the snapshot still moves with its namespace.
  for (const v of volumes) {
    const to = map[v.namespace];
    if (to && to !== v.namespace && !pvRename.has(v.pv)) pvRename.set(v.pv, { name: suffixed(v.pv, to), ...(v.path ? { path: `${v.path.replace(/\/+$/, '')}-${to}` } : {}) });
  }
  const out: PlannedObject[] = [];
  for (const original of objects) {
    const o = clean(structuredClone(original));
    if (o.metadata.namespace !== undefined) o.metadata.namespace = ns(o.metadata.namespace)!;
    if (o.kind === 'Namespace') o.metadata.name = ns(o.metadata.name)!;
    if (o.kind === 'Service') {
      const spec = (o.spec ?? {}) as { clusterIP?: string; clusterIPs?: string[]; ports?: { nodePort?: number }[]; healthCheckNodePort?: number };
      // The API server allocates addresses and node ports on this cluster; a headless Service stays headless.
      if (spec.clusterIP !== 'None') {
        delete spec.clusterIP;
        delete spec.clusterIPs;
      }
      for (const p of spec.ports ?? []) delete p.nodePort;
      delete spec.healthCheckNodePort;
    }
    if (o.kind === 'PersistentVolume') {
      const spec = (o.spec ?? {}) as { claimRef?: Record<string, unknown>; hostPath?: { path: string }; local?: { path: string } };
      if (spec.claimRef) {
        // Pre-bound to the restored claim by name; the uid and resourceVersion are the old cluster's.
        const { uid: _u, resourceVersion: _r, ...ref } = spec.claimRef;
        spec.claimRef = { ...ref, ...(typeof ref.namespace === 'string' ? { namespace: ns(ref.namespace) } : {}) };
      }
      const r = pvRename.get(o.metadata.name);
      if (r) {
        notes.push(`PersistentVolume ${o.metadata.name} is cloned as ${r.name}${r.path ? ` at ${r.path}` : ''} (the original stays bound to its claim)`);
        o.metadata.name = r.name;
        if (r.path && spec.hostPath) spec.hostPath.path = r.path;
        if (r.path && spec.local) spec.local.path = r.path;
      }
    }
    if (o.kind === 'PersistentVolumeClaim') {
      const spec = (o.spec ?? {}) as { volumeName?: string };
      const r = spec.volumeName ? pvRename.get(spec.volumeName) : undefined;
      if (r) spec.volumeName = r.name;
    }
    if (o.kind === 'RoleBinding' || o.kind === 'ClusterRoleBinding') {
      let moved = false;
      for (const s of (o.subjects as { kind: string; namespace?: string }[] | undefined) ?? []) {
        if (s.namespace !== undefined && ns(s.namespace) !== s.namespace) {
          s.namespace = ns(s.namespace)!;
          moved = true;
        }
      }
      if (moved && o.kind === 'ClusterRoleBinding') {
        const to = Object.values(map)[0]!;
        const name = suffixed(o.metadata.name, to);
        notes.push(`ClusterRoleBinding ${o.metadata.name} is cloned as ${name} for the service accounts of the new namespace`);
        o.metadata.name = name;
      }
    }
    out.push({ object: o, phase: phaseOf(o.kind), label: labelOf(o) });
  }
  out.sort((a, b) => a.phase - b.phase || a.label.localeCompare(b.label));
  const planned: PlannedVolume[] = volumes
    .filter((v) => v.captured && v.path)
    .map((v) => {
      const r = pvRename.get(v.pv);
      return { from: `volumes/${v.namespace}/${v.pvc}`, to: r?.path ?? v.path!, namespace: ns(v.namespace)!, pvc: v.pvc, pv: r?.name ?? v.pv };
    });
  const namespaces = [...new Set(out.filter((p) => p.object.kind === 'Namespace').map((p) => p.object.metadata.name))];
  return { objects: out, volumes: planned, namespaces, notes };
}
