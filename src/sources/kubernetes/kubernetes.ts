import { setMaxListeners } from 'node:events';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { parse, stringify } from 'yaml';
import { AppError, systemClock, throwIfAborted } from '../../kernel/index.js';
import type { ArtifactInfo, Capture, ComponentKind, ObjectsRestoreReport, PreflightReport, SourceEnv } from '../source.js';
import { listSome } from '../files/files.js';
import { compareCounts } from '../throwaway.js';
import { KubeClient, reasonOf, type ApiResource, type KubeObject } from './client.js';
import { clean, clusterNeeds, objectPath, recreatedByCluster, resourceId, selectResources, underRoots, volumePath, volumeType } from './objects.js';
import { planRestore, type CapturedVolume, type PlannedObject, type RestorePlan } from './plan.js';

const absolute = z.string().startsWith('/', 'use an absolute path');
const NAMESPACE_RE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** Where local-path, OpenEBS LocalPV hostpath and k3s keep volumes: the default roots volume data may be read from and restored to. */
export const DEFAULT_VOLUME_ROOTS = ['/opt/local-path-provisioner', '/var/openebs/local', '/var/lib/rancher/k3s/storage'];

export const kubernetesOptions = z.strictObject({
  kubeconfig: absolute.optional().describe('The kubeconfig file (default: $KUBECONFIG, then ~/.kube/config). Its credentials stay in that file.'),
  context: z.string().min(1).optional().describe('The context in the kubeconfig (default: its current context).'),
  inCluster: z.boolean().optional().describe('Use the service account of the pod Strongbox runs in (deploy/kubernetes).'),
  namespaces: z.array(z.string().refine((n) => n === '*' || NAMESPACE_RE.test(n), 'a namespace name, or "*" for all')).min(1).describe('The namespaces to capture; ["*"] for all.'),
  excludeNamespaces: z.array(z.string()).optional().describe('Namespaces left out (with "*").'),
  labelSelector: z.string().min(1).optional().describe('Only objects with these labels (as kubectl -l): "app=shop,tier!=cache". Namespaces are always taken whole.'),
  includeResources: z.array(z.string().min(1)).optional().describe('Only these resources: "deployments.apps", "configmaps", "Widget.example.com" (default: all).'),
  excludeResources: z.array(z.string().min(1)).optional().describe('Resources left out, in the same forms.'),
  clusterResources: z
    .union([z.literal('auto'), z.boolean()])
    .optional()
    .describe('Cluster-scoped objects: "auto" (default) those the selection needs (CRDs of its custom resources, PVs bound to its claims, their StorageClasses, ClusterRoles and bindings of its service accounts); true all; false none but the namespaces.'),
  volumes: z.boolean().optional().describe('Capture the data of claims bound to hostPath or local volumes (default true).'),
  volumeRoots: z.array(absolute).optional().describe(`Node directories under which volume data may be read and restored (default: ${DEFAULT_VOLUME_ROOTS.join(', ')}). A volume elsewhere is a warning, never read or written.`),
  hostRoot: absolute.optional().describe('Where the node\'s filesystem is mounted when Strongbox runs in a pod (deploy/kubernetes mounts it at /host). Default: /.'),
  namespaceMap: z.record(z.string().regex(NAMESPACE_RE), z.string().regex(NAMESPACE_RE, 'a namespace name')).optional().describe('Restore only: namespace OLD restored as NEW (set by --map NAME.namespace=OLD:NEW).'),
});
export type KubernetesOptions = z.infer<typeof kubernetesOptions>;

const INDEX = 'kubernetes.json';

interface CaptureIndex {
  server: string;
  serverVersion: string;
  resourceVersion: string;
  consistent: boolean;
  namespaces: string[];
  counts: Record<string, number>;
  volumes: CapturedVolume[];
  warnings: string[];
  left: Record<string, number>;
}

function connect(o: KubernetesOptions, signal?: AbortSignal): Promise<KubeClient> {
  // Requests run several at a time, each listening for a cancel.
  if (signal) setMaxListeners(64, signal);
  return KubeClient.connect({ kubeconfig: o.kubeconfig, context: o.context, inCluster: o.inCluster });
}

function hostPath(o: KubernetesOptions, p: string): string {
  return o.hostRoot ? join(o.hostRoot, p) : p;
}

/** Runs `f` over `items` with at most `n` at a time, in order of results. */
async function pool<T, R>(items: T[], n: number, f: (t: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await f(items[i]!);
      }
    }),
  );
  return out;
}

/**
 * Kubernetes resources and volumes. Backup: every served resource is
 * discovered, the selection listed at one resourceVersion (a consistent cut
 * while the server keeps it), each object stored as a clean manifest under
 * resources/GROUP/VERSION/KIND/NAMESPACE/NAME.yaml, and the data of claims
 * bound to hostPath/local volumes read from the node (volumes/NS/CLAIM).
 * Restore: into the original namespaces or mapped ones, in dependency order,
 * after a preflight that checks the targets and server-side dry-runs every
 * object. docs/KUBERNETES.md.
 */
export const kubernetesKind: ComponentKind<KubernetesOptions> = {
  kind: 'kubernetes',
  schema: kubernetesOptions,
  shape: 'objects',
  /**
   * A drill never touches a cluster: the manifests and volume data are
   * restored as files (every byte read back, decrypted and checked), every
   * manifest must parse as a Kubernetes object, the objects per kind must be
   * those counted at backup, and every captured volume must be there.
   */
  async drillTarget(info, scratch) {
    const dir = join(scratch, 'kubernetes');
    return {
      options: {},
      asFiles: dir,
      connection: { STRONGBOX_DRILL_PATH: dir },
      async verify() {
        const checks: { name: string; ok: boolean; expected?: string; actual?: string }[] = [];
        let index: CaptureIndex | undefined;
        try {
          index = JSON.parse(readFileSync(join(dir, INDEX), 'utf8')) as CaptureIndex;
        } catch (err) {
          return [{ name: `read ${INDEX}`, ok: false, actual: (err as Error).message }];
        }
        const counts = new Map<string, number>();
        const bad: string[] = [];
        const walk = (d: string): void => {
          for (const e of readdirSync(d, { withFileTypes: true })) {
            const p = join(d, e.name);
            if (e.isDirectory()) walk(p);
            else if (e.name.endsWith('.yaml')) {
              try {
                const o = parse(readFileSync(p, 'utf8')) as Partial<KubeObject> | null;
                if (!o || typeof o.apiVersion !== 'string' || typeof o.kind !== 'string' || typeof o.metadata?.name !== 'string') throw new Error('not a Kubernetes object');
                counts.set(o.kind, (counts.get(o.kind) ?? 0) + 1);
              } catch (err) {
                bad.push(`${p.slice(dir.length + 1)}: ${(err as Error).message.split('\n')[0]}`);
              }
            }
          }
        };
        if (existsSync(join(dir, 'resources'))) walk(join(dir, 'resources'));
        checks.push({ name: 'every manifest parses as a Kubernetes object', ok: bad.length === 0, expected: 'all', actual: bad.length ? `${bad.length} do not: ${listSome(bad, 3)}` : `${[...counts.values()].reduce((a, b) => a + b, 0)} manifests` });
        checks.push(...compareCounts(info, 'objects.', counts, 'objects of kind'));
        for (const v of index.volumes.filter((x) => x.captured)) {
          const vd = join(dir, 'volumes', v.namespace, v.pvc);
          let files = 0;
          const count = (d: string): void => {
            for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) count(join(d, e.name));
            else files++;
          };
          let ok = true;
          try {
            count(vd);
          } catch {
            ok = false;
          }
          checks.push({ name: `volume ${v.namespace}/${v.pvc} restored`, ok, actual: ok ? `${files} file(s), every byte verified` : 'missing' });
        }
        return checks;
      },
      cleanup: async () => undefined,
    };
  },
  mappable: ['namespace', 'kubeconfig', 'context', 'inCluster', 'hostRoot'],
  describe: (o) => `${o.inCluster ? 'in-cluster' : (o.context ?? 'current context')}: namespace${o.namespaces.length === 1 ? '' : 's'} ${o.namespaces.join(', ')}${o.labelSelector ? ` (${o.labelSelector})` : ''}`,
  map(o, field, value) {
    if (field !== 'namespace') return { ...o, [field]: value === 'true' ? true : value === 'false' ? false : value };
    const m = /^([^:]+):([^:]+)$/.exec(value);
    const explicit = m ? { from: m[1]!, to: m[2]! } : o.namespaces.length === 1 && o.namespaces[0] !== '*' ? { from: o.namespaces[0]!, to: value } : undefined;
    if (!explicit) throw new AppError('INVALID_ARGUMENT', `--map …namespace=${value}: say which namespace goes where, as OLD:NEW (the component has ${o.namespaces.join(', ')}).`);
    // The namespaces list follows the map, so a repointed application snapshots the restored namespace next time.
    return { ...o, namespaces: o.namespaces.map((n) => (n === explicit.from ? explicit.to : n)), namespaceMap: { ...(o.namespaceMap ?? {}), [explicit.from]: explicit.to } };
  },
  recordAs: { namespace: 'namespaces' },
  redirects(before, after) {
    if (before.kubeconfig !== after.kubeconfig || before.context !== after.context || !!before.inCluster !== !!after.inCluster) return 'it uses other Kubernetes credentials';
    return undefined;
  },
  async capture(o, env) {
    return capture(o, env);
  },
  async preflight(o, env, info, force, files) {
    return preflight(o, env, info, force, files ?? new Map());
  },
  async restoreObjects(o, input, env, _info, force) {
    return restoreObjects(o, input, env, force);
  },
};

async function capture(o: KubernetesOptions, env: SourceEnv): Promise<Capture> {
  const c = await connect(o, env.signal);
  const signal = env.signal;
  const version = await c.get<{ gitVersion?: string }>('/version', signal);
  const all = await c.discover(signal);
  const chosen = selectResources(all, o);
  const byId = new Map(all.map((r) => [resourceId(r), r]));
  const nsResource = byId.get('namespaces')!;
  const nsList = await c.list(nsResource, { ...(signal ? { signal } : {}) });
  const rv = nsList.resourceVersion;
  let consistent = true;
  const warnings: string[] = [];
  const left: Record<string, number> = {};
  const listAt = async (r: ApiResource, opts: { namespace?: string; labelSelector?: string }) => {
    try {
      return (await c.list(r, { ...opts, ...(consistent ? { resourceVersion: rv } : {}), ...(signal ? { signal } : {}) })).items;
    } catch (err) {
      // The revision was compacted away (a long capture): later lists read the present instead, and the record says so.
      if (consistent && err instanceof AppError && /\b410\b|too old|Expired/i.test(err.message)) {
        consistent = false;
        env.log(`resourceVersion ${rv} is no longer kept by the server; the rest of the capture reads the present (not one consistent cut)`);
        return (await c.list(r, { ...opts, ...(signal ? { signal } : {}) })).items;
      }
      throw err;
    }
  };
  const existing = new Set(nsList.items.map((n) => n.metadata.name));
  const excluded = new Set(o.excludeNamespaces ?? []);
  const wanted = (o.namespaces.includes('*') ? [...existing] : o.namespaces).filter((n) => !excluded.has(n)).sort();
  for (const n of wanted) if (!existing.has(n)) warnings.push(`namespace ${n} does not exist in the cluster: nothing of it is in this snapshot`);
  const present = wanted.filter((n) => existing.has(n));
  if (present.length === 0) throw new AppError('INVALID_ARGUMENT', `None of the namespaces ${wanted.join(', ') || '(none left after excludeNamespaces)'} exists in the cluster ${c.server} (context ${c.contextName}).`);
  env.log(`Kubernetes ${version.gitVersion ?? '?'} at ${c.server} (context ${c.contextName}): ${all.length} resources served, ${chosen.length} selected; namespaces ${present.join(', ')}; at resourceVersion ${rv}`);

  const taken: KubeObject[] = [];
  const wide = o.namespaces.includes('*') || present.length > 3;
  const inScope = new Set(present);
  const namespaced: KubeObject[] = [];
  for (const r of chosen.filter((x) => x.namespaced)) {
    throwIfAborted(signal);
    const sel = o.labelSelector ? { labelSelector: o.labelSelector } : {};
    const items = wide ? (await listAt(r, sel)).filter((x) => inScope.has(x.metadata.namespace ?? '')) : (await Promise.all(present.map((n) => listAt(r, { ...sel, namespace: n })))).flat();
    namespaced.push(...items);
    env.progress?.({ items: namespaced.length, bytes: 0 });
  }
  const services = new Map(namespaced.filter((x) => x.kind === 'Service' && !x.apiVersion.includes('/')).map((s) => [`${s.metadata.namespace}/${s.metadata.name}`, s]));
  for (const x of namespaced) {
    const why = recreatedByCluster(x, services);
    if (why) left[x.kind] = (left[x.kind] ?? 0) + 1;
    else taken.push(x);
  }
  // Namespaces are taken whole (their labels and annotations), whatever the selector.
  taken.push(...nsList.items.filter((n) => inScope.has(n.metadata.name)).map((n) => ({ ...n, apiVersion: 'v1', kind: 'Namespace' })));

  const mode = o.clusterResources ?? 'auto';
  const clusterChosen = chosen.filter((r) => !r.namespaced && r.plural !== 'namespaces');
  const pvResource = byId.get('persistentvolumes');
  const pvs = new Map<string, KubeObject>();
  if (pvResource) for (const pv of await listAt(pvResource, {})) pvs.set(pv.metadata.name, pv);
  if (mode === true) {
    for (const r of clusterChosen) {
      const items = r.plural === 'persistentvolumes' && !r.group ? [...pvs.values()] : await listAt(r, o.labelSelector ? { labelSelector: o.labelSelector } : {});
      taken.push(...items);
    }
  } else if (mode === 'auto') {
    const allowed = (id: string) => clusterChosen.some((r) => resourceId(r) === id);
    const crdResource = byId.get('customresourcedefinitions.apiextensions.k8s.io');
    const crds = crdResource ? await listAt(crdResource, {}) : [];
    const customGroups = new Map(crds.map((d) => {
      const spec = d.spec as { group: string; names: { kind: string } };
      return [`${spec.names.kind}.${spec.group}`, d.metadata.name] as const;
    }));
    const crbResource = byId.get('clusterrolebindings.rbac.authorization.k8s.io');
    const crbs = crbResource ? await listAt(crbResource, {}) : [];
    const needs = clusterNeeds(taken, customGroups, crbs, pvs);
    const fetchNamed = async (id: string, names: Map<string, string>, known?: Map<string, KubeObject>) => {
      const r = byId.get(id);
      if (!r || !allowed(id) || names.size === 0) return;
      const have = known ?? new Map((await listAt(r, {})).map((x) => [x.metadata.name, x]));
      for (const [name, why] of names) {
        const x = have.get(name);
        if (x) taken.push({ ...x, apiVersion: r.apiVersion, kind: r.kind });
        else warnings.push(`${r.kind} ${name} (${why}) does not exist in the cluster`);
      }
    };
    await fetchNamed('customresourcedefinitions.apiextensions.k8s.io', needs.crds, new Map(crds.map((d) => [d.metadata.name, d])));
    await fetchNamed('persistentvolumes', needs.pvs, pvs);
    await fetchNamed('storageclasses.storage.k8s.io', needs.storageClasses);
    await fetchNamed('clusterroles.rbac.authorization.k8s.io', needs.clusterRoles);
    await fetchNamed('clusterrolebindings.rbac.authorization.k8s.io', needs.clusterRoleBindings, new Map(crbs.map((b) => [b.metadata.name, b])));
  }

  // Volumes: the node directories of claims bound to hostPath or local PVs.
  const volumes: CapturedVolume[] = [];
  const dirs: Capture['dirs'] = [];
  const roots = o.volumeRoots ?? DEFAULT_VOLUME_ROOTS;
  if (o.volumes !== false) {
    for (const pvc of taken.filter((x) => x.kind === 'PersistentVolumeClaim')) {
      const ns = pvc.metadata.namespace!;
      const name = pvc.metadata.name;
      const pvName = (pvc.spec as { volumeName?: string } | undefined)?.volumeName;
      const pv = pvName ? pvs.get(pvName) : undefined;
      if (!pv) {
        warnings.push(`claim ${ns}/${name} is not bound to a volume: no data captured for it`);
        volumes.push({ namespace: ns, pvc: name, pv: pvName ?? '', type: 'unbound', captured: false });
        continue;
      }
      const type = volumeType(pv);
      const path = volumePath(pv);
      const v: CapturedVolume = { namespace: ns, pvc: name, pv: pv.metadata.name, type, ...(path ? { path } : {}), captured: false };
      volumes.push(v);
      if (!path) {
        warnings.push(`claim ${ns}/${name}: volume ${pv.metadata.name} is a ${type} volume; Strongbox reads the data of hostPath and local volumes only (a CSI snapshot path is not there yet), so its data is not in this snapshot`);
        continue;
      }
      if (!underRoots(path, roots)) {
        warnings.push(`claim ${ns}/${name}: volume ${pv.metadata.name} is at ${path}, outside the volume roots (${roots.join(', ')}); add its directory to volumeRoots to capture it`);
        continue;
      }
      const dir = hostPath(o, path);
      try {
        if (!statSync(dir).isDirectory()) throw new Error('not a directory');
      } catch (err) {
        warnings.push(`claim ${ns}/${name}: volume ${pv.metadata.name} at ${dir} cannot be read on this machine (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); run Strongbox on the volume's node, or set hostRoot where the node's filesystem is mounted`);
        continue;
      }
      v.captured = true;
      dirs.push({ path: `volumes/${ns}/${name}`, dir });
    }
  }

  const counts: Record<string, number> = {};
  const files = taken.map((x) => {
    const m = clean(x);
    counts[m.kind] = (counts[m.kind] ?? 0) + 1;
    return { path: objectPath(m), data: Buffer.from(stringify(m, { aliasDuplicateObjects: false })) };
  });
  files.sort((a, b) => (a.path < b.path ? -1 : 1));
  const index: CaptureIndex = { server: c.server, serverVersion: version.gitVersion ?? '', resourceVersion: rv, consistent, namespaces: present, counts, volumes, warnings, left };
  files.push({ path: INDEX, data: Buffer.from(JSON.stringify(index, null, 2) + '\n') });
  const leftOut = Object.entries(left).map(([k, n]) => `${n} ${k}`);
  env.log(`captured ${taken.length} objects (${Object.entries(counts).map(([k, n]) => `${n} ${k}`).join(', ')})${leftOut.length ? `; left out as re-created by the cluster: ${leftOut.join(', ')}` : ''}; ${dirs.length} volume(s)`);
  for (const w of warnings) env.log(`warning: ${w}`);
  const info: ArtifactInfo = {
    format: 'Kubernetes manifests and volumes',
    serverVersion: index.serverVersion,
    resourceVersion: rv,
    consistent,
    namespaces: present.join(','),
    objects: taken.length,
    volumes: dirs.length,
  };
  for (const [k, n] of Object.entries(counts)) info[`objects.${k}`] = n;
  return { files, dirs, warnings, info };
}

/** The manifests and index of a snapshot's kubernetes component. */
function readSnapshot(files: ReadonlyMap<string, Buffer>): { objects: KubeObject[]; index: CaptureIndex } {
  const raw = files.get(INDEX);
  if (!raw) throw new AppError('CORRUPT', `The component has no ${INDEX}: it was not made by a kubernetes component.`);
  let index: CaptureIndex;
  try {
    index = JSON.parse(raw.toString('utf8')) as CaptureIndex;
  } catch {
    throw new AppError('CORRUPT', `The component's ${INDEX} is not valid JSON.`);
  }
  if (!Array.isArray(index.volumes)) index.volumes = [];
  const objects: KubeObject[] = [];
  for (const [path, data] of files) {
    if (!path.startsWith('resources/')) continue;
    // Manifests are data: parsed without custom tags, aliases bounded; anything malformed is refused by name.
    let o: unknown;
    try {
      o = parse(data.toString('utf8'), { maxAliasCount: 50 });
    } catch (err) {
      throw new AppError('CORRUPT', `${path} in the snapshot is not valid YAML: ${(err as Error).message.split('\n')[0]}`);
    }
    const k = o as KubeObject;
    if (!k || typeof k !== 'object' || typeof k.apiVersion !== 'string' || typeof k.kind !== 'string' || typeof k.metadata?.name !== 'string') throw new AppError('CORRUPT', `${path} in the snapshot is not a Kubernetes object (apiVersion, kind and metadata.name are needed).`);
    objects.push(k);
  }
  return { objects, index };
}

function plan(o: KubernetesOptions, files: ReadonlyMap<string, Buffer>): RestorePlan & { index: CaptureIndex } {
  const { objects, index } = readSnapshot(files);
  return { ...planRestore(objects, index.volumes, o.namespaceMap ?? {}), index };
}

/** Resolves the API path of an object from discovery (kind + apiVersion), refreshed once when a CRD was just created. */
class Paths {
  private byKind = new Map<string, ApiResource>();
  constructor(private readonly c: KubeClient) {}
  async refresh(signal?: AbortSignal): Promise<void> {
    this.byKind = new Map((await this.c.discover(signal)).flatMap((r) => [[`${r.apiVersion}/${r.kind}`, r]]));
    // Discovery lists preferred versions only; other served versions are reached by their own group path.
  }
  resource(o: KubeObject): ApiResource | undefined {
    const r = this.byKind.get(`${o.apiVersion}/${o.kind}`);
    if (r) return r;
    const [group, version] = o.apiVersion.includes('/') ? o.apiVersion.split('/') as [string, string] : ['', o.apiVersion];
    const any = [...this.byKind.values()].find((x) => x.group === group && x.kind === o.kind);
    return any ? { ...any, version, apiVersion: o.apiVersion } : undefined;
  }
  collection(o: KubeObject): string | undefined {
    const r = this.resource(o);
    return r ? KubeClient.collection(r, o.metadata.namespace) : undefined;
  }
}

/** Objects in a namespace that the restore would collide with (the service account and CA bundle every namespace gets are not counted). */
async function occupants(c: KubeClient, paths: Paths, ns: string, kinds: KubeObject[], signal?: AbortSignal): Promise<string[]> {
  const seen = new Set<string>();
  const found: string[] = [];
  for (const o of kinds) {
    const r = paths.resource(o);
    if (!r || !r.namespaced || seen.has(resourceId(r))) continue;
    seen.add(resourceId(r));
    const a = await c.request<{ items?: { metadata: { name: string } }[] }>('GET', `${KubeClient.collection(r, ns)}?limit=20`, undefined, undefined, signal);
    if (a.status !== 200) continue;
    for (const it of a.body.items ?? []) {
      if ((r.kind === 'ServiceAccount' && it.metadata.name === 'default') || (r.kind === 'ConfigMap' && it.metadata.name === 'kube-root-ca.crt')) continue;
      found.push(`${r.kind} ${it.metadata.name}`);
    }
  }
  return found;
}

async function preflight(o: KubernetesOptions, env: SourceEnv, _info: ArtifactInfo, force: boolean, files: ReadonlyMap<string, Buffer>): Promise<PreflightReport> {
  let c: KubeClient;
  const report: PreflightReport = { target: '', problems: [], plan: [] };
  try {
    c = await connect(o, env.signal);
  } catch (err) {
    report.target = o.kubeconfig ?? 'kubeconfig';
    report.problems.push((err as Error).message);
    return report;
  }
  report.target = `${c.server} (${c.contextName})`;
  let p: ReturnType<typeof plan>;
  try {
    p = plan(o, files);
  } catch (err) {
    report.problems.push((err as Error).message);
    return report;
  }
  report.target = `${c.server} (${c.contextName}) namespace${p.namespaces.length === 1 ? '' : 's'} ${p.namespaces.join(', ')}`;
  const paths = new Paths(c);
  try {
    await paths.refresh(env.signal);
  } catch (err) {
    report.problems.push((err as Error).message);
    return report;
  }
  const existingNs = new Set<string>();
  for (const ns of p.namespaces) {
    const a = await c.request('GET', `/api/v1/namespaces/${encodeURIComponent(ns)}`, undefined, undefined, env.signal);
    if (a.status === 200) existingNs.add(ns);
    else if (a.status !== 404) report.problems.push(`cannot read namespace ${ns}: ${reasonOf(a)}`);
  }
  for (const ns of existingNs) {
    const inNs = p.objects.filter((x) => x.object.metadata.namespace === ns).map((x) => x.object);
    const there = await occupants(c, paths, ns, inNs, env.signal);
    if (there.length === 0) report.plan.push(`restore into the existing, empty namespace ${ns}`);
    else if (force) report.plan.push(`restore into namespace ${ns}, which holds ${there.length} object(s) (${listSome(there)}): --force updates the snapshot's objects that exist there (server-side apply); others stay`);
    else report.problems.push(`namespace ${ns} is not empty (${listSome(there)}); restore into a new namespace with --map NAME.namespace=${ns}:NEW, delete it first, or add --force to update its objects`);
  }
  for (const ns of p.namespaces.filter((n) => !existingNs.has(n))) report.plan.push(`create namespace ${ns}`);
  report.plan.push(...p.notes);
  // Volume data goes only where this instance's spec allows, and never over data unless forced.
  const roots = o.volumeRoots ?? DEFAULT_VOLUME_ROOTS;
  for (const v of p.volumes) {
    if (!underRoots(v.to, roots)) {
      report.problems.push(`volume ${v.pv} of ${v.namespace}/${v.pvc} would be restored to ${v.to}, outside the volume roots (${roots.join(', ')}); add its directory to the component's volumeRoots if that is intended`);
      continue;
    }
    const dir = hostPath(o, v.to);
    let entries: string[] | undefined;
    try {
      entries = readdirSync(dir);
    } catch {
      entries = undefined;
    }
    if (!entries || entries.length === 0) report.plan.push(`restore the data of ${v.namespace}/${v.pvc} into ${dir}`);
    else if (force) report.plan.push(`restore the data of ${v.namespace}/${v.pvc} over ${entries.length} existing entr${entries.length === 1 ? 'y' : 'ies'} in ${dir} (--force)`);
    else report.problems.push(`the directory of volume ${v.pv} (${dir}) is not empty; delete it, restore into a new namespace (the volume is then cloned), or add --force`);
  }
  // Existing cluster-scoped objects: PVs must not be taken from their claims; others are kept (or updated with --force).
  for (const x of p.objects.filter((q) => q.object.metadata.namespace === undefined && q.object.kind !== 'Namespace')) {
    const col = paths.collection(x.object);
    if (!col) continue;
    const a = await c.request<KubeObject>('GET', `${col}/${encodeURIComponent(x.object.metadata.name)}`, undefined, undefined, env.signal);
    if (a.status !== 200) continue;
    if (x.object.kind === 'PersistentVolume') {
      const ref = (a.body.spec as { claimRef?: { namespace?: string; name?: string } } | undefined)?.claimRef;
      const want = (x.object.spec as { claimRef?: { namespace?: string; name?: string } } | undefined)?.claimRef;
      if (ref && (ref.namespace !== want?.namespace || ref.name !== want?.name)) report.problems.push(`PersistentVolume ${x.object.metadata.name} exists and is bound to ${ref.namespace}/${ref.name}; restore into a new namespace (the volume is then cloned) or delete it`);
      else report.plan.push(`PersistentVolume ${x.object.metadata.name} exists${force ? ' and is updated (--force)' : ' and is kept'}`);
    } else report.plan.push(`${x.label} exists${force ? ' and is updated (--force)' : ' and is kept as it is'}`);
  }
  // What the API server would reject, before anything is created: server-side dry run of every object.
  const missingCrd = new Set<string>();
  const checks = await pool(p.objects, 8, async (x) => {
    if (x.object.kind === 'Namespace') return undefined;
    const r = paths.resource(x.object);
    if (!r) {
      const crd = p.objects.find((d) => d.object.kind === 'CustomResourceDefinition' && (d.object.spec as { names?: { kind?: string }; group?: string } | undefined)?.names?.kind === x.object.kind);
      if (crd) {
        missingCrd.add(crd.object.metadata.name);
        return undefined;
      }
      return `${x.label}: the cluster does not serve ${x.object.apiVersion} ${x.object.kind}; install what defines it (an operator, a CRD) first, or exclude it`;
    }
    // Objects of a namespace the restore creates are checked in "default": the server validates them the same way.
    const ns = x.object.metadata.namespace;
    const probe = ns !== undefined && !existingNs.has(ns) ? { ...x.object, metadata: { ...x.object.metadata, namespace: 'default' } } : x.object;
    const a = await c.request('POST', `${KubeClient.collection(r, probe.metadata.namespace)}?dryRun=All&fieldManager=strongbox`, probe, undefined, env.signal);
    if (a.status < 300 || a.status === 409) return undefined;
    return `${x.label}: the API server would reject it: ${reasonOf(a)}`;
  });
  for (const problem of checks) if (problem) report.problems.push(problem);
  if (missingCrd.size) report.plan.push(`custom resources of ${[...missingCrd].join(', ')} are checked once their definitions are created`);
  report.plan.push(`create ${p.objects.length} object(s) in dependency order (definitions and namespaces, storage, configuration and secrets, service accounts and RBAC, services and custom resources, workloads); ${p.volumes.length} volume(s) of data first`);
  return report;
}

async function waitEstablished(c: KubeClient, names: string[], signal?: AbortSignal): Promise<string[]> {
  const late: string[] = [];
  for (const name of names) {
    const end = systemClock.now().getTime() + 60_000;
    for (;;) {
      throwIfAborted(signal);
      const a = await c.request<{ status?: { conditions?: { type: string; status: string }[] } }>('GET', `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${encodeURIComponent(name)}`, undefined, undefined, signal);
      if (a.status === 200 && a.body.status?.conditions?.some((x) => x.type === 'Established' && x.status === 'True')) break;
      if (systemClock.now().getTime() > end) {
        late.push(name);
        break;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  return late;
}

async function restoreObjects(o: KubernetesOptions, input: { files: ReadonlyMap<string, Buffer>; restoreDir(from: string, to: string): Promise<{ bytes: number; files: number }> }, env: SourceEnv, force: boolean): Promise<ObjectsRestoreReport> {
  const c = await connect(o, env.signal);
  const p = plan(o, input.files);
  const roots = o.volumeRoots ?? DEFAULT_VOLUME_ROOTS;
  const failures: string[] = [];
  const notes = [...p.notes];
  let bytes = 0;
  let items = 0;
  // Data first: a workload that starts finds its volume whole.
  for (const v of p.volumes) {
    throwIfAborted(env.signal);
    if (!underRoots(v.to, roots)) {
      failures.push(`volume ${v.pv} of ${v.namespace}/${v.pvc}: ${v.to} is outside the volume roots; not restored`);
      continue;
    }
    try {
      const r = await input.restoreDir(v.from, hostPath(o, v.to));
      bytes += r.bytes;
      env.log(`volume ${v.namespace}/${v.pvc}: ${r.files} file(s), ${r.bytes} bytes into ${hostPath(o, v.to)}`);
      env.progress?.({ items, bytes });
    } catch (err) {
      if (env.signal?.aborted) throw err;
      failures.push(`volume ${v.pv} of ${v.namespace}/${v.pvc}: ${(err as Error).message}`);
    }
  }
  const paths = new Paths(c);
  await paths.refresh(env.signal);
  let created = 0;
  let updated = 0;
  const apply = async (x: PlannedObject) => {
    const col = paths.collection(x.object);
    if (!col) {
      failures.push(`${x.label}: the cluster does not serve ${x.object.apiVersion} ${x.object.kind}`);
      return;
    }
    const a = await c.request('POST', `${col}?fieldManager=strongbox`, x.object, undefined, env.signal);
    if (a.status < 300) {
      created++;
      items++;
      return;
    }
    if (a.status === 409) {
      if (x.object.kind === 'Namespace') return;
      if (x.object.kind === 'PersistentVolume') {
        // A volume Released by its deleted claim keeps the old claim's uid: cleared, it binds to the restored claim.
        const u = await c.request('PATCH', `${col}/${encodeURIComponent(x.object.metadata.name)}`, { spec: { claimRef: { uid: null, resourceVersion: null } } }, 'application/merge-patch+json', env.signal);
        if (u.status >= 300) failures.push(`${x.label}: ${reasonOf(u)}`);
        else notes.push(`${x.label} existed: its claim reference now waits for the restored claim`);
        if (!force) return;
      }
      if (!force && x.object.metadata.namespace !== undefined) {
        failures.push(`${x.label}: it exists (made since the preflight); add --force to update it`);
        return;
      }
      if (!force) return; // a cluster-scoped object that exists is kept (the preflight said so)
      const u = await c.request('PATCH', `${col}/${encodeURIComponent(x.object.metadata.name)}?fieldManager=strongbox&force=true`, JSON.stringify(x.object), 'application/apply-patch+yaml', env.signal);
      if (u.status < 300) {
        updated++;
        items++;
        notes.push(`updated ${x.label}`);
      } else failures.push(`${x.label}: ${reasonOf(u)}`);
      return;
    }
    failures.push(`${x.label}: ${reasonOf(a)}`);
  };
  for (const phase of [...new Set(p.objects.map((x) => x.phase))]) {
    throwIfAborted(env.signal);
    const batch = p.objects.filter((x) => x.phase === phase);
    await pool(batch, 8, apply);
    env.progress?.({ items, bytes });
    if (phase === 0 && batch.length) {
      const late = await waitEstablished(c, batch.map((x) => x.object.metadata.name), env.signal);
      for (const n of late) failures.push(`CustomResourceDefinition ${n}: not established within 60 s; its custom resources may fail`);
      await paths.refresh(env.signal);
    }
  }
  env.log(`${created} object(s) created, ${updated} updated, ${failures.length} problem(s)`);
  return { info: { objects: items, created, updated, volumeBytes: bytes, namespaces: p.namespaces.join(',') }, items, bytes, failures, notes };
}
