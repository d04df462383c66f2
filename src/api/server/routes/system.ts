import { AppError } from '../../../kernel/index.js';
import { fingerprint, loadApplication, parseLicense, signatureValid } from '../../../spec/index.js';
import { VERSION } from '../../../app/index.js';
import { AuditQuery, MaintenanceBody, NotificationSettings, SecuritySettings } from '../../contract/index.js';
import type { ZodType } from 'zod';
import type { ServerCore } from '../core.js';
import type { RouteTable } from '../http.js';
import { renderMetrics } from '../metrics.js';

export function systemRoutes(t: RouteTable): void {
  t.add({ method: 'GET', url: '/healthz', access: 'public', tag: 'system', summary: 'Liveness: the process answers', handler: async () => ({ status: 'ok', version: VERSION }) });

  t.add({
    method: 'GET',
    url: '/readyz',
    access: 'public',
    tag: 'system',
    summary: 'Readiness: the catalog answers and the scheduler runs',
    async handler({ reply, core }) {
      try {
        await core.inst.accounts.count();
        return { status: 'ready' };
      } catch (err) {
        reply.code(503);
        return { status: 'not ready', reason: (err as Error).message };
      }
    },
  });

  t.add({
    method: 'GET',
    url: '/metrics',
    access: 'viewer',
    tag: 'system',
    summary: 'Prometheus metrics (send a viewer token as a bearer token)',
    binary: true,
    async handler({ reply, core }) {
      return reply.header('content-type', 'text/plain; version=0.0.4; charset=utf-8').send(await renderMetrics(core));
    },
  });

  t.add({
    method: 'GET',
    url: '/api/licenses',
    access: 'viewer',
    tag: 'licenses',
    summary: 'Installed licenses',
    async handler({ core }) {
      return (await core.inst.licenses.list()).map((l) => {
        const d = parseLicense(l.document);
        return { ...d.license, keyFingerprint: l.keyFingerprint, installedAt: l.installedAt };
      });
    },
  });

  t.add({
    method: 'POST',
    url: '/api/licenses',
    access: 'admin',
    tag: 'licenses',
    summary: 'Install a license (the JSON document a vendor issued); it must be signed by the key of an application of this instance',
    async handler({ req, actor, core }) {
      const text = typeof req.body === 'string' ? req.body : JSON.stringify(req.body);
      const doc = parseLicense(text);
      const keys = new Set<string>();
      for (const a of await core.inst.applications.list()) {
        const k = loadApplication(a.specText, a.name).spec.license?.publicKey;
        if (k) keys.add(k);
      }
      const key = [...keys].find((k) => signatureValid(doc, k));
      if (!key) {
        await core.audit(actor, 'license.install', doc.license.id, req.ip, 'refused');
        throw new AppError('INVALID_ARGUMENT', keys.size === 0 ? 'No application of this instance names a vendor key, so no license can be checked: add the vendor\'s application spec first.' : `The license's signature does not match the vendor key of any application here (${[...keys].map(fingerprint).join(', ')}); it was changed, or is for another vendor.`);
      }
      await core.inst.licenses.put({ id: doc.license.id, keyFingerprint: fingerprint(key), licensee: doc.license.licensee, document: text, installedAt: core.clock.now().toISOString() });
      await core.audit(actor, 'license.install', doc.license.id, req.ip, 'ok', { product: doc.license.product, expiresAt: doc.license.expiresAt });
      return { installed: doc.license.id, ...doc.license, keyFingerprint: fingerprint(key) };
    },
  });

  t.add({
    method: 'DELETE',
    url: '/api/licenses/:id',
    access: 'admin',
    tag: 'licenses',
    summary: 'Remove a license',
    async handler({ req, params, actor, core }) {
      if (!(await core.inst.licenses.remove(params.id!))) throw new AppError('NOT_FOUND', `No license "${params.id}".`);
      await core.audit(actor, 'license.remove', params.id!, req.ip, 'ok');
      return { removed: params.id };
    },
  });

  t.add({ method: 'GET', url: '/api/audit', access: 'admin', tag: 'audit', summary: 'The audit log, newest first (filters: actor, action prefix, since, limit)', query: AuditQuery, handler: async ({ query, core }) => core.inst.audit.list(query as never) });

  settingRoutes(t, {
    key: 'notifications',
    schema: NotificationSettings,
    read: 'Webhooks and e-mail (webhook secrets are write-only: shown as ***)',
    write: 'Set webhooks (signed with their secret) and e-mail through an SMTP relay, for failure, partial failure, recovery (and success); a secret of *** keeps the one stored',
    view: async (core) => core.notifier.view(),
    save: async (core, body) => core.notifier.save(body),
    audit: (body) => ({ webhooks: body.webhooks.map((w) => w.url), smtp: body.smtp ? `${body.smtp.host}:${body.smtp.port}` : null }),
  });
  settingRoutes(t, {
    key: 'security',
    schema: SecuritySettings,
    read: 'Who may restore and download',
    write: 'Let operators restore or download (admins only by default)',
    view: async (core) => SecuritySettings.parse(await core.inst.settings.get('security', {})),
    save: async (core, body) => core.inst.settings.set('security', body),
    audit: (body) => body,
  });

  t.add({
    method: 'POST',
    url: '/api/maintenance',
    access: 'admin',
    tag: 'maintenance',
    summary: 'Run maintenance now: check (reading back a share of the data), then prune; returns the job',
    body: MaintenanceBody,
    status: 202,
    async handler({ body, caller, core }) {
      return core.submit(body.prune ? 'prune' : 'check', { where: { destination: body.destination ?? null }, readDataPercent: body.readDataPercent, prune: body.prune }, caller);
    },
  });
}

/** A setting as a GET and an admin PUT (validated, audited). */
function settingRoutes<T>(t: RouteTable, o: { key: string; schema: ZodType<T>; read: string; write: string; view: (core: ServerCore) => Promise<unknown>; save: (core: ServerCore, body: T) => Promise<void>; audit: (body: T) => Record<string, unknown> }): void {
  t.add({ method: 'GET', url: `/api/settings/${o.key}`, access: 'admin', tag: 'settings', summary: o.read, handler: async ({ core }) => o.view(core) });
  t.add({
    method: 'PUT',
    url: `/api/settings/${o.key}`,
    access: 'admin',
    tag: 'settings',
    summary: o.write,
    body: o.schema,
    async handler({ req, body, actor, core }) {
      await o.save(core, body);
      await core.audit(actor, `settings.${o.key}`, null, req.ip, 'ok', o.audit(body));
      return o.view(core);
    },
  });
}
