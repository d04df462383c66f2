import * as R from '../../contract/schemas.js';
import { auditLog, installLicense, listLicenses, removeLicense } from '../../../operations/index.js';
import { VERSION } from '../../../app/index.js';
import { AuditQuery, MaintenanceBody, NotificationSettings, SecuritySettings } from '../../contract/index.js';
import { z, type ZodType } from 'zod';
import type { ServerCore } from '../core.js';
import type { RouteTable } from '../http.js';
import { renderMetrics } from '../metrics.js';

export function systemRoutes(t: RouteTable): void {
  t.add({ method: 'GET', url: '/healthz',
    response: R.Health, access: 'public', tag: 'system', summary: 'Liveness: the process answers', handler: async () => ({ status: 'ok', version: VERSION }) });

  t.add({
    method: 'GET',
    url: '/readyz',
    response: R.Health,
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
    response: z.array(R.InstalledLicense),
    access: 'viewer',
    tag: 'licenses',
    summary: 'Installed licenses',
    handler: async ({ core }) => listLicenses(core.env),
  });

  t.add({
    method: 'POST',
    url: '/api/licenses',
    response: R.InstalledLicense.extend({ installed: z.string() }),
    access: 'admin',
    tag: 'licenses',
    summary: 'Install a license (the JSON document a vendor issued); it must be signed by the key of an application of this instance',
    async handler({ req, caller, core }) {
      return installLicense(core.env, typeof req.body === 'string' ? req.body : JSON.stringify(req.body), caller);
    },
  });

  t.add({
    method: 'DELETE',
    url: '/api/licenses/:id',
    response: R.Ack('removed'),
    access: 'admin',
    tag: 'licenses',
    summary: 'Remove a license',
    handler: async ({ params, caller, core }) => removeLicense(core.env, params.id!, caller),
  });

  t.add({ method: 'GET', url: '/api/audit',
    response: R.Audit, access: 'admin', tag: 'audit', summary: 'The audit log, newest first (filters: actor, action prefix, since, limit)', query: AuditQuery, handler: async ({ query, core }) => auditLog(core.env, query as never) });

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
    response: R.Job,
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
  t.add({ method: 'GET', url: `/api/settings/${o.key}`, response: o.schema, access: 'admin', tag: 'settings', summary: o.read, handler: async ({ core }) => o.view(core) });
  t.add({
    method: 'PUT',
    url: `/api/settings/${o.key}`,
    response: o.schema,
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
