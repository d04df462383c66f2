import { parseDocument, stringify } from 'yaml';
import { AppError } from '../kernel/index.js';
import { NAME_RE } from './common.js';

/**
 * A vendor's Velero Backup manifest (velero.io/v1) as a Strongbox application
 * spec: one kubernetes component with the same selection. What has no
 * equivalent in an application spec (where backups go, how long they are
 * kept, volume snapshot providers, in-pod hooks) is listed, each with what to
 * do instead. Pure: text in, spec text and notes out.
 */
export interface VeleroTranslation {
  /** The Backup's name. */
  from: string;
  specText: string;
  /** What was not translated, each with why and what to use instead. */
  untranslated: string[];
}

interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}

/** Whether a YAML/JSON text is a Velero Backup (or Schedule, whose template is one). */
export function isVeleroBackup(text: string): boolean {
  return /^\s*apiVersion:\s*["']?velero\.io\/v1/m.test(text) || /"apiVersion"\s*:\s*"velero\.io\/v1"/.test(text);
}

/** A label selector in the string form of kubectl -l. */
export function selectorText(s: LabelSelector): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(s.matchLabels ?? {})) parts.push(`${k}=${v}`);
  for (const e of s.matchExpressions ?? []) {
    const values = (e.values ?? []).join(',');
    if (e.operator === 'In') parts.push(`${e.key} in (${values})`);
    else if (e.operator === 'NotIn') parts.push(`${e.key} notin (${values})`);
    else if (e.operator === 'Exists') parts.push(e.key);
    else if (e.operator === 'DoesNotExist') parts.push(`!${e.key}`);
    else throw new AppError('INVALID_ARGUMENT', `The Velero Backup's labelSelector has an unknown operator "${e.operator}" (In, NotIn, Exists, DoesNotExist).`);
  }
  return parts.join(',');
}

const HANDLED = new Set(['includedNamespaces', 'excludedNamespaces', 'includedResources', 'excludedResources', 'includeClusterResources', 'labelSelector', 'ttl', 'snapshotVolumes', 'defaultVolumesToFsBackup', 'defaultVolumesToRestic', 'storageLocation', 'volumeSnapshotLocations', 'hooks', 'orLabelSelectors', 'includedClusterScopedResources', 'excludedClusterScopedResources', 'includedNamespaceScopedResources', 'excludedNamespaceScopedResources']);

/** Translates a Velero Backup (or a Schedule's template) into an application spec. */
export function translateVelero(text: string, source = 'the manifest'): VeleroTranslation {
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length) throw new AppError('INVALID_ARGUMENT', `${source} is not valid YAML: ${doc.errors[0]!.message.split('\n')[0]}`);
  const v = doc.toJS({ maxAliasCount: 50 }) as { apiVersion?: string; kind?: string; metadata?: { name?: string; labels?: Record<string, string> }; spec?: Record<string, unknown> & { template?: Record<string, unknown> } } | null;
  if (!v || v.apiVersion !== 'velero.io/v1' || (v.kind !== 'Backup' && v.kind !== 'Schedule')) throw new AppError('INVALID_ARGUMENT', `${source} is not a Velero Backup or Schedule (apiVersion velero.io/v1).`);
  const name = v.metadata?.name ?? '';
  if (!NAME_RE.test(name)) throw new AppError('INVALID_ARGUMENT', `The Velero ${v.kind}'s name "${name}" cannot name an application: use lowercase letters, digits and "-" (at most 63).`);
  const untranslated: string[] = [];
  const spec = (v.kind === 'Schedule' ? (v.spec?.template as Record<string, unknown> | undefined) : v.spec) ?? {};
  if (v.kind === 'Schedule' && typeof v.spec?.schedule === 'string') untranslated.push(`schedule "${v.spec.schedule}": schedules are Strongbox's own: strongbox schedule add ${name}-backup --app ${name} --cron "${v.spec.schedule}"`);
  const k8s: Record<string, unknown> = {};
  const list = (x: unknown) => (Array.isArray(x) ? x.map(String) : undefined);
  k8s.namespaces = list(spec.includedNamespaces)?.length ? list(spec.includedNamespaces) : ['*'];
  if (list(spec.excludedNamespaces)?.length) k8s.excludeNamespaces = list(spec.excludedNamespaces);
  const include = [...(list(spec.includedResources) ?? []), ...(list(spec.includedNamespaceScopedResources) ?? []), ...(list(spec.includedClusterScopedResources) ?? [])].filter((r) => r !== '*');
  const exclude = [...(list(spec.excludedResources) ?? []), ...(list(spec.excludedNamespaceScopedResources) ?? []), ...(list(spec.excludedClusterScopedResources) ?? [])];
  if (include.length) k8s.includeResources = include;
  if (exclude.length) k8s.excludeResources = exclude;
  if (spec.labelSelector) {
    const sel = selectorText(spec.labelSelector as LabelSelector);
    if (sel) k8s.labelSelector = sel;
  }
  const or = spec.orLabelSelectors as LabelSelector[] | undefined;
  if (Array.isArray(or) && or.length) {
    if (or.length === 1 && !k8s.labelSelector) k8s.labelSelector = selectorText(or[0]!);
    else untranslated.push(`orLabelSelectors (${or.map(selectorText).join(' OR ')}): a component has one selector; make one kubernetes component per selector`);
  }
  if (spec.includeClusterResources === true) k8s.clusterResources = true;
  else if (spec.includeClusterResources === false) k8s.clusterResources = false;
  if (typeof spec.ttl === 'string') untranslated.push(`ttl ${spec.ttl}: retention belongs to a schedule: strongbox schedule add ${name}-backup --app ${name} --cron daily --ttl ${ttlDays(spec.ttl)}`);
  if (spec.snapshotVolumes === true || Array.isArray(spec.volumeSnapshotLocations)) untranslated.push('snapshotVolumes/volumeSnapshotLocations: Strongbox captures the data of hostPath and local volumes itself; volumes of other types (cloud disks, CSI) are reported per volume, not snapshotted by a provider');
  if (typeof spec.storageLocation === 'string') untranslated.push(`storageLocation ${spec.storageLocation}: where snapshots go is a Strongbox destination (strongbox destination add)`);
  if (spec.hooks) untranslated.push('hooks: Velero runs them in pods; Strongbox hooks run on the machine Strongbox runs on (spec.hooks, docs/APPLICATIONS.md): rewrite them, e.g. as "kubectl exec" commands');
  for (const k of Object.keys(spec)) if (!HANDLED.has(k)) untranslated.push(`${k}: no equivalent in an application spec`);
  const appSpec = {
    apiVersion: 'strongbox/v1',
    kind: 'Application',
    metadata: { name, version: v.metadata?.labels?.['app.kubernetes.io/version'] ?? '1', description: `Translated from the Velero ${v.kind} ${name}` },
    spec: { components: [{ name: 'cluster', kubernetes: k8s }] },
  };
  return { from: `velero.io/v1 ${v.kind} ${name}`, specText: `# Translated by Strongbox from the Velero ${v.kind} ${name}.\n${stringify(appSpec)}`, untranslated };
}

/** A Go duration (720h0m0s) in whole days for --ttl (at least 1d). */
function ttlDays(ttl: string): string {
  const m = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(ttl);
  const hours = m ? Number(m[1] ?? 0) + Number(m[2] ?? 0) / 60 : 720;
  return `${Math.max(1, Math.round(hours / 24))}d`;
}
