import { AppError } from '../kernel/index.js';
import { checkEntitlement, parseLicense } from '../spec/license.js';
import type { ApplicationSpec, SpecProblem } from '../spec/index.js';
import { audit, needInstance, type Caller, type Env } from './context.js';
import { componentKinds, specLanguage } from './on-demand.js';

/**
 * Applications of this instance: add (validated), list, show, remove. One home
 * for the CLI, the server and the console.
 */

export interface RemoveApplicationResult {
  removed: string;
  /** Schedules that snapshotted it, removed with it (only when asked). */
  schedulesRemoved: string[];
}

export type LicenseStatus = { required: false } | { required: true; ok: true; licensee: string; expiresAt: string | null } | { required: true; ok: false; reason: string };

export interface ApplicationView {
  name: string;
  version: string;
  components: { name: string; kind: string; source: string }[];
  updatedAt: string;
  hooks: Record<string, string[]>;
  vendor: string | null;
  description: string | null;
  license: LicenseStatus;
}

export interface ApplicationDetail {
  name: string;
  version: string;
  specText: string;
  spec: ApplicationSpec;
  license: LicenseStatus;
  createdAt: string;
  updatedAt: string;
}

/** Whether the instance holds a license the application's vendor requires. */
export async function licenseStatus(env: Env, spec: ApplicationSpec): Promise<LicenseStatus> {
  const l = spec.spec.license;
  if (!l) return { required: false };
  const docs = (await needInstance(env).licenses.list()).flatMap((x) => {
    try {
      return [parseLicense(x.document)];
    } catch {
      return [];
    }
  });
  const v = checkEntitlement({ name: spec.metadata.name, publicKey: l.publicKey, ...(l.product ? { product: l.product } : {}) }, docs, env.clock.now());
  return v.ok ? { required: true, ok: true, licensee: v.license.licensee, expiresAt: v.license.expiresAt ?? null } : { required: true, ok: false, reason: v.reason };
}

export async function listApplications(env: Env): Promise<ApplicationView[]> {
  const { components, loadApplication } = await specLanguage();
  const { kinds } = await componentKinds();
  const out: ApplicationView[] = [];
  for (const a of await needInstance(env).applications.list()) {
    const spec = loadApplication(a.specText, `application ${a.name}`);
    out.push({
      name: a.name,
      version: a.version,
      components: components(spec).map((c) => ({ name: c.name, kind: c.kind, source: kinds[c.kind].describe(c.options as never) })),
      updatedAt: a.updatedAt,
      hooks: hookSummary(spec, components),
      vendor: spec.metadata.vendor ?? null,
      description: spec.metadata.description ?? null,
      license: await licenseStatus(env, spec),
    });
  }
  return out;
}

export async function showApplication(env: Env, name: string): Promise<ApplicationDetail> {
  const a = await needInstance(env).applications.get(name);
  const spec = (await specLanguage()).loadApplication(a.specText, `application ${a.name}`);
  return { name: a.name, version: a.version, specText: a.specText, spec, license: await licenseStatus(env, spec), createdAt: a.createdAt, updatedAt: a.updatedAt };
}

export type SpecCheck = { ok: true; spec: ApplicationSpec; components: { name: string; kind: string }[] } | { ok: false; problems: SpecProblem[] };

/** Validates a spec without adding it: every problem, with line and column. */
export async function validateSpec(text: string): Promise<SpecCheck> {
  const { components, parseApplication } = await specLanguage();
  const r = parseApplication(text);
  return r.ok ? { ok: true, spec: r.spec, components: components(r.spec).map((c) => ({ name: c.name, kind: c.kind })) } : { ok: false, problems: r.problems };
}

/** The JSON Schema of application specs (docs/application.schema.json). */
export async function applicationJsonSchema(): Promise<unknown> {
  return (await specLanguage()).applicationJsonSchema();
}

/** Adds an application from its spec text (replace: update one that exists). */
export interface ApplicationAdded {
  name: string;
  version: string;
  result: 'added' | 'replaced';
  components: { name: string; kind: string }[];
  /** When the text was a Velero Backup or Schedule: what it was, the spec made from it, and what was not translated. */
  translated?: { from: string; spec: string; untranslated: string[] };
}

/**
 * Adds an application from its spec text (replace: update one that exists).
 * A vendor's Velero Backup (or Schedule) manifest is translated into the
 * equivalent spec first (spec/velero.ts), and the answer says what was not.
 */
export async function addApplication(env: Env, text: string, o: { replace: boolean; source?: string | undefined }, caller: Caller): Promise<ApplicationAdded> {
  const { components, isVeleroBackup, loadApplication, translateVelero } = await specLanguage();
  const velero = isVeleroBackup(text) ? translateVelero(text, o.source ?? 'the manifest') : undefined;
  const specText = velero?.specText ?? text;
  // A bad spec is refused with every problem, by line and column, and changes nothing.
  const spec = loadApplication(specText, o.source ?? 'the spec');
  const how = await needInstance(env).applications.put(spec.metadata.name, spec.metadata.version, specText, o.replace);
  await audit(env, caller, `application.${how === 'added' ? 'add' : 'replace'}`, spec.metadata.name, 'ok', { version: spec.metadata.version, ...(velero ? { from: velero.from } : {}) });
  return { name: spec.metadata.name, version: spec.metadata.version, result: how, components: components(spec).map((c) => ({ name: c.name, kind: c.kind })), ...(velero ? { translated: { from: velero.from, spec: velero.specText, untranslated: velero.untranslated } } : {}) };
}

/**
 * Removes an application from this instance (its snapshots stay in the
 * repositories). An application that schedules still snapshot is refused —
 * they would fail on every run and it would silently stop being protected —
 * unless `withSchedules`, which removes those schedules too.
 */
export async function removeApplication(env: Env, name: string, o: { withSchedules?: boolean }, caller: Caller): Promise<RemoveApplicationResult> {
  const inst = needInstance(env);
  await inst.applications.get(name);
  const schedules = (await inst.schedules.list()).filter((s) => s.kind === 'backup' && s.app === name);
  if (schedules.length > 0 && !o.withSchedules) {
    throw new AppError('CONFLICT', `Application ${name} is snapshotted by schedule(s) ${schedules.map((s) => s.name).join(', ')}; remove them first, or remove the application with its schedules (--with-schedules, API withSchedules=true). Nothing was changed.`, { details: { schedules: schedules.map((s) => s.name) } });
  }
  for (const s of schedules) {
    await inst.schedules.remove(s.id);
    await audit(env, caller, 'schedule.remove', s.name, 'ok', { with: `application ${name}` });
  }
  await inst.applications.remove(name);
  await audit(env, caller, 'application.remove', name, 'ok', schedules.length ? { schedulesRemoved: schedules.map((s) => s.name) } : null);
  return { removed: name, schedulesRemoved: schedules.map((s) => s.name) };
}

/** Hook names by phase (the application's own, then each component's as COMPONENT: NAME). */
function hookSummary(spec: ApplicationSpec, components: (s: ApplicationSpec) => { name: string; hooks?: unknown }[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  const add = (hooks: Record<string, { name: string }[] | undefined> | undefined, prefix: string) => {
    for (const [phase, list] of Object.entries(hooks ?? {})) for (const h of list ?? []) (out[phase] ??= []).push(prefix + h.name);
  };
  add(spec.spec.hooks as never, '');
  for (const c of components(spec)) add(c.hooks as never, `${c.name}: `);
  return out;
}
