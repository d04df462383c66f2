import { AppError } from '../kernel/index.js';
import { openSealed, seal } from '../repo/index.js';
import type { InstanceRestorer } from '../engine/index.js';
import type { PasswordRef } from '../catalog/index.js';
import type { Instance, InstanceExport } from './instance.js';

/**
 * Brings a full snapshot's instance state into this instance (disaster
 * recovery onto a fresh machine, or a merge into a running one): applications
 * and destinations it lacks are added; ones it has are kept as they are and
 * reported. Sealed passwords are opened with the snapshot's instance key and
 * sealed again with this instance's key.
 */
/** The spec language (zod and yaml) is loaded by what reads specs, when it does (docs/PERFORMANCE.md). */
const specLanguage = () => import('../spec/index.js');

export function instanceRestorer(inst: Instance): InstanceRestorer {
  const decide = async (files: Map<string, Buffer>, apply: boolean): Promise<string[]> => {
    const raw = files.get('instance.json');
    if (!raw) throw new AppError('CORRUPT', 'The full snapshot has no instance.json.');
    const state = JSON.parse(raw.toString('utf8')) as InstanceExport;
    if (state.format !== 1 && state.format !== 2) throw new AppError('UNSUPPORTED_VERSION', `The snapshot's instance state has format ${String(state.format)}${state.strongboxVersion ? ` (written by Strongbox ${state.strongboxVersion})` : ''}; this Strongbox reads formats 1 and 2: upgrade Strongbox to restore it.`);
    const oldKey = files.get('instance.key');
    // Sealed secrets are opened with the snapshot's instance key and sealed again with ours.
    const reseal = (ref: PasswordRef): PasswordRef => {
      if (ref.type !== 'sealed') return ref;
      if (!oldKey) throw new AppError('CORRUPT', 'The full snapshot has sealed secrets but no instance.key.');
      const plain = openSealed(oldKey, Buffer.from(ref.sealed, 'base64'), 'stored secret');
      return { type: 'sealed', sealed: seal(inst.key, plain).toString('base64') };
    };
    const lines: string[] = [];
    for (const a of state.applications) {
      const have = await inst.applications.find(a.name);
      if (!have) {
        (await specLanguage()).loadApplication(a.specText, `application ${a.name} in the snapshot`);
        if (apply) await inst.applications.put(a.name, a.version, a.specText, false);
        lines.push(`${apply ? 'added' : 'add'} application ${a.name} ${a.version}`);
      } else lines.push(`keep application ${a.name}: this instance has it already${have.specText === a.specText ? '' : ` (its spec differs from the snapshot's; "strongbox app show ${a.name}")`}`);
    }
    const current = await inst.destinations.list();
    for (const d of state.destinations) {
      if (current.some((c) => c.name === d.name)) {
        lines.push(`keep destination ${d.name}: this instance has it already`);
        continue;
      }
      const same = current.find((c) => c.location === d.location);
      if (same) {
        lines.push(`skip destination ${d.name}: this instance reaches ${d.location} already as "${same.name}"`);
        continue;
      }
      const password = reseal(d.password);
      const credentials = d.credentials?.secret ? { ...d.credentials, secret: reseal(d.credentials.secret) } : d.credentials;
      const makeDefault = d.isDefault && !current.some((c) => c.isDefault);
      if (apply) await inst.destinations.add({ name: d.name, kind: d.kind as 'local' | 's3' | 'azure' | 'sftp', location: d.location, password, isDefault: makeDefault, ...(credentials ? { credentials } : {}) });
      lines.push(`${apply ? 'added' : 'add'} destination ${d.name} (${d.location})${makeDefault ? ' as the default' : ''}`);
    }
    lines.push(...(await restoreCatalogState(inst, state, apply, reseal)));
    return lines;
  };
  return { plan: (f) => decide(f, false), apply: (f) => decide(f, true) };
}

/** The stored specs of the named applications (all when none named), parsed. */
export async function loadSpecs(inst: Instance, names: string[] | undefined) {
  const stored = names?.length ? await Promise.all(names.map((n) => inst.applications.get(n))) : await inst.applications.list();
  const { loadApplication } = await specLanguage();
  return stored.map((a) => loadApplication(a.specText, `application ${a.name}`));
}

/**
 * The rest of an instance's configuration (format 2): schedules, settings,
 * users and tokens, licenses, the audit log. What this instance has already is
 * kept and said so; what it lacks is added. Applications and destinations come
 * first (schedules name them), users before their tokens.
 */
async function restoreCatalogState(inst: Instance, state: InstanceExport, apply: boolean, reseal: (ref: PasswordRef) => PasswordRef): Promise<string[]> {
  const lines: string[] = [];
  const now = new Date(state.exportedAt);
  const verb = (what: string) => `${apply ? 'added' : 'add'} ${what}`;
  for (const s of state.schedules ?? []) {
    if (await inst.schedules.find(s.name)) {
      lines.push(`keep schedule ${s.name}: this instance has it already`);
      continue;
    }
    if (apply) await inst.schedules.add(s, now);
    lines.push(verb(`schedule ${s.name} (${s.kind === 'maintenance' ? 'maintenance' : s.kind === 'drill' ? `drill ${s.app ?? ''}`.trim() : (s.app ?? 'full')}, ${s.cron} ${s.timezone})`));
  }
  const current = await inst.settings.all();
  for (const [key, value] of Object.entries(state.settings ?? {})) {
    if (key in current) {
      lines.push(`keep ${key} settings: this instance has its own`);
      continue;
    }
    // Secrets inside settings (webhook secrets) are sealed like destinations' passwords.
    if (apply) await inst.settings.set(key, resealAll(value, reseal));
    lines.push(verb(`${key} settings`));
  }
  if (state.accounts) {
    const r = await inst.accounts.importRows(state.accounts, apply, now);
    for (const u of r.users) lines.push(verb(`user ${u}`));
    for (const u of r.kept) lines.push(`keep user ${u}: this instance has it already`);
    for (const t of r.tokens) lines.push(verb(`API token ${t}`));
  }
  const licenses = new Set((await inst.licenses.list()).map((l) => l.id));
  for (const l of state.licenses ?? []) {
    if (licenses.has(l.id)) continue;
    if (apply) await inst.licenses.put(l);
    lines.push(verb(`license ${l.id} (${l.licensee})`));
  }
  if (state.audit?.length) {
    const n = apply ? await inst.audit.importEntries(state.audit) : state.audit.length;
    lines.push(`${apply ? 'imported' : 'import'} ${n} audit log entr${n === 1 ? 'y' : 'ies'}`);
  }
  return lines;
}

/**
 * Writes restored targets into the installed specs (the application now lives
 * there): the spec text is edited in place — comments and layout kept — then
 * validated again before it replaces the old one.
 */
export async function recordMappedTargets(inst: Instance, changes: { app: string; component: string; kind: string; field: string; value: unknown }[]): Promise<string[]> {
  const lines: string[] = [];
  const byApp = new Map<string, typeof changes>();
  for (const c of changes) byApp.set(c.app, [...(byApp.get(c.app) ?? []), c]);
  for (const [app, list] of byApp) {
    const stored = await inst.applications.find(app);
    if (!stored) continue;
    const doc = (await import('yaml')).parseDocument(stored.specText);
    const comps = doc.getIn(['spec', 'components']) as { items?: unknown[] } | undefined;
    const names = (comps?.items ?? []).map((n) => String((n as { get?: (k: string) => unknown }).get?.('name') ?? ''));
    for (const c of list) {
      const i = names.indexOf(c.component);
      if (i < 0) continue;
      doc.setIn(['spec', 'components', i, c.kind, ...c.field.split('.')], c.value);
    }
    const text = doc.toString();
    const spec = (await specLanguage()).loadApplication(text, `application ${app} with its restored targets`);
    await inst.applications.put(app, spec.metadata.version, text, true);
    lines.push(`application ${app} now uses the restored targets: ${list.map((c) => `${c.component}.${c.field}`).join(', ')}`);
  }
  return lines;
}

/** A JSON value with every sealed secret in it sealed again. */
function resealAll(v: unknown, reseal: (ref: PasswordRef) => PasswordRef): unknown {
  if (Array.isArray(v)) return v.map((x) => resealAll(x, reseal));
  if (!v || typeof v !== 'object') return v;
  const o = v as Record<string, unknown>;
  if (o.type === 'sealed' && typeof o.sealed === 'string' && Object.keys(o).length === 2) return reseal(o as PasswordRef);
  return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, resealAll(x, reseal)]));
}
