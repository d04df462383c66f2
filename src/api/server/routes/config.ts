import { AppError } from '../../../kernel/index.js';
import { addDestination, describeCredentials, describePasswordRef, removeApplication, updateDestinationSecrets, validateDestination } from '../../../app/index.js';
import { components, loadApplication, parseApplication, checkEntitlement, parseLicense } from '../../../spec/index.js';
import { ApplicationBody, DestinationBody, DestinationPatch, RemoveApplicationQuery } from '../../contract/index.js';
import type { Destination } from '../../../catalog/index.js';
import { kinds } from '../../../sources/index.js';
import type { ServerCore } from '../core.js';
import type { RouteTable } from '../http.js';

/** Destinations as the API shows them: where, and how secrets are kept — never the secrets. */
function viewDestination(d: Destination) {
  return { name: d.name, kind: d.kind, location: d.location, password: describePasswordRef(d.password), isDefault: d.isDefault, createdAt: d.createdAt, credentials: describeCredentials(d.credentials) };
}

async function licenseStatus(core: ServerCore, spec: ReturnType<typeof loadApplication>) {
  const l = spec.spec.license;
  if (!l) return { required: false as const };
  const docs = (await core.inst.licenses.list()).flatMap((x) => {
    try {
      return [parseLicense(x.document)];
    } catch {
      return [];
    }
  });
  const v = checkEntitlement({ name: spec.metadata.name, publicKey: l.publicKey, ...(l.product ? { product: l.product } : {}) }, docs, core.clock.now());
  return v.ok ? { required: true as const, ok: true as const, licensee: v.license.licensee, expiresAt: v.license.expiresAt } : { required: true as const, ok: false as const, reason: v.reason };
}

export function configRoutes(t: RouteTable): void {
  t.add({ method: 'GET', url: '/api/destinations', access: 'viewer', tag: 'destinations', summary: 'List destinations (secrets are never shown)', handler: async ({ core }) => (await core.inst.destinations.list()).map(viewDestination) });
  t.add({ method: 'GET', url: '/api/destinations/:name', access: 'viewer', tag: 'destinations', summary: 'One destination', handler: async ({ params, core }) => viewDestination(await core.inst.destinations.get(params.name!)) });

  t.add({
    method: 'POST',
    url: '/api/destinations',
    access: 'admin',
    tag: 'destinations',
    summary: 'Add a destination (optionally create the repository), validated step by step; secrets are sealed and write-only',
    body: DestinationBody,
    status: 201,
    async handler({ req, body, actor, core }) {
      try {
        const { added, validation } = await addDestination(core.inst, { name: body.name, location: body.location, passwordRef: core.inst.sealSecret(body.password), password: body.password, init: !!body.init, makeDefault: !!body.default, skipValidation: !!body.skipValidation, ...(body.store ? { store: body.store } : {}) });
        await core.audit(actor, 'destination.add', body.name, req.ip, 'ok', { location: body.location, init: !!body.init });
        return { ...viewDestination(added), validation: validation ?? null };
      } catch (err) {
        await core.audit(actor, 'destination.add', body.name, req.ip, 'failed', { location: body.location, message: (err as Error).message });
        throw err;
      }
    },
  });

  t.add({
    method: 'PATCH',
    url: '/api/destinations/:name',
    access: 'admin',
    tag: 'destinations',
    summary: 'Change a destination\'s secrets (repository password, store credentials): validated with the new values first, write-only',
    body: DestinationPatch,
    async handler({ req, body, params, actor, core }) {
      try {
        const { updated, validation } = await updateDestinationSecrets(core.inst, params.name!, { ...(body.password ? { password: body.password } : {}), ...(body.store ? { store: body.store } : {}) });
        await core.audit(actor, 'destination.update', params.name!, req.ip, 'ok', { password: !!body.password, store: !!body.store?.secret });
        return { ...viewDestination(updated), validation };
      } catch (err) {
        await core.audit(actor, 'destination.update', params.name!, req.ip, 'failed', { message: (err as Error).message });
        throw err;
      }
    },
  });

  t.add({
    method: 'POST',
    url: '/api/destinations/:name/validate',
    access: 'operator',
    tag: 'destinations',
    summary: 'Test a destination: open the repository, write, list, read back and delete a test object',
    async handler({ params, core }) {
      const d = await core.inst.destinations.get(params.name!);
      return { name: d.name, ...(await validateDestination(d.location, core.inst.resolvePassword(d.password), core.inst.resolveCredentials(d))) };
    },
  });

  t.add({
    method: 'POST',
    url: '/api/destinations/:name/default',
    access: 'admin',
    tag: 'destinations',
    summary: 'Make a destination the default',
    async handler({ req, params, actor, core }) {
      await core.inst.destinations.setDefault(params.name!);
      await core.audit(actor, 'destination.default', params.name!, req.ip, 'ok');
      return { default: params.name };
    },
  });

  t.add({
    method: 'DELETE',
    url: '/api/destinations/:name',
    access: 'admin',
    tag: 'destinations',
    summary: 'Forget a destination (its repository and data are not touched)',
    async handler({ req, params, actor, core }) {
      await core.inst.destinations.remove(params.name!);
      await core.audit(actor, 'destination.remove', params.name!, req.ip, 'ok');
      return { removed: params.name };
    },
  });

  t.add({
    method: 'GET',
    url: '/api/applications',
    access: 'viewer',
    tag: 'applications',
    summary: 'List applications, with their components and license status',
    async handler({ core }) {
      const out = [];
      for (const a of await core.inst.applications.list()) {
        const spec = loadApplication(a.specText, `application ${a.name}`);
        out.push({ name: a.name, version: a.version, components: components(spec).map((c) => ({ name: c.name, kind: c.kind, source: kinds[c.kind].describe(c.options as never) })), updatedAt: a.updatedAt, hooks: hookSummary(spec), vendor: spec.metadata.vendor ?? null, description: spec.metadata.description ?? null, license: await licenseStatus(core, spec) });
      }
      return out;
    },
  });

  t.add({
    method: 'GET',
    url: '/api/applications/:name',
    access: 'viewer',
    tag: 'applications',
    summary: 'One application: its spec as written, parsed, and its license status',
    async handler({ params, core }) {
      const a = await core.inst.applications.get(params.name!);
      const spec = loadApplication(a.specText, `application ${a.name}`);
      return { name: a.name, version: a.version, specText: a.specText, spec, license: await licenseStatus(core, spec), createdAt: a.createdAt, updatedAt: a.updatedAt };
    },
  });

  t.add({
    method: 'POST',
    url: '/api/applications/validate',
    access: 'viewer',
    tag: 'applications',
    summary: 'Validate a spec without adding it: problems with line and column',
    body: ApplicationBody,
    async handler({ body }) {
      const r = parseApplication(body.spec);
      return r.ok ? { ok: true, name: r.spec.metadata.name, version: r.spec.metadata.version } : { ok: false, problems: r.problems };
    },
  });

  t.add({
    method: 'POST',
    url: '/api/applications',
    access: 'admin',
    tag: 'applications',
    summary: 'Add an application from its spec (replace: true to update one)',
    body: ApplicationBody,
    status: 201,
    async handler({ req, body, actor, core }) {
      const r = parseApplication(body.spec);
      if (!r.ok) throw new AppError('INVALID_ARGUMENT', `The spec is not valid: ${r.problems.map((p) => `${p.line ? `line ${p.line}${p.column ? `:${p.column}` : ''}: ` : ''}${p.path ? `${p.path}: ` : ''}${p.message}`).join('; ')}`, { details: { problems: r.problems } });
      const how = await core.inst.applications.put(r.spec.metadata.name, r.spec.metadata.version, body.spec, !!body.replace);
      await core.audit(actor, `application.${how === 'added' ? 'add' : 'replace'}`, r.spec.metadata.name, req.ip, 'ok', { version: r.spec.metadata.version });
      return { name: r.spec.metadata.name, version: r.spec.metadata.version, result: how };
    },
  });

  t.add({
    method: 'DELETE',
    url: '/api/applications/:name',
    access: 'admin',
    tag: 'applications',
    summary: 'Remove an application (its snapshots stay); refused while schedules snapshot it, unless withSchedules=true removes them too',
    query: RemoveApplicationQuery,
    async handler({ req, params, query, actor, core }) {
      const r = await removeApplication(core.inst, params.name!, { withSchedules: query.withSchedules === 'true' });
      for (const s of r.schedulesRemoved) await core.audit(actor, 'schedule.remove', s, req.ip, 'ok', { with: `application ${r.removed}` });
      await core.audit(actor, 'application.remove', params.name!, req.ip, 'ok', r.schedulesRemoved.length ? { schedulesRemoved: r.schedulesRemoved } : undefined);
      return r;
    },
  });
}

/** Hook names by phase (the application's own, then each component's as COMPONENT: NAME). */
function hookSummary(spec: ReturnType<typeof loadApplication>): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  const add = (hooks: Record<string, { name: string }[] | undefined> | undefined, prefix: string) => {
    for (const [phase, list] of Object.entries(hooks ?? {})) for (const h of list ?? []) (out[phase] ??= []).push(prefix + h.name);
  };
  add(spec.spec.hooks as never, '');
  for (const c of components(spec)) add(c.hooks as never, `${c.name}: `);
  return out;
}
