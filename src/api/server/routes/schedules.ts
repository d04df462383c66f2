import { z } from 'zod';
import * as R from '../../contract/schemas.js';
import { AppError } from '../../../kernel/index.js';
import { checkTimezone, describeCron, nextRuns, resolveCron, type RetentionRules, type Schedule } from '../../../jobs/index.js';
import { loadSpecs } from '../../../app/index.js';
import { destinationTarget, licenseGate, previewScheduleRetention, retentionPolicy } from '../../../operations/index.js';
import { isEmptyPolicy } from '../../../engine/index.js';
import { CronPreviewBody, ScheduleBody, SchedulePatch } from '../../contract/index.js';
import type { ServerCore } from '../core.js';
import type { RouteTable } from '../http.js';


function view(core: ServerCore, s: Schedule) {
  return { ...s, description: describeCron(s.cron, s.timezone), nextRuns: core.scheduler.next(s, 5).map((d) => d.toISOString()) };
}

async function checkTargets(core: ServerCore, b: { kind: string; app?: string | null | undefined; destination?: string | null | undefined }): Promise<void> {
  if (b.kind === 'backup') await licenseGate(core.inst, await loadSpecs(core.inst, b.app ? [b.app] : undefined), core.clock.now());
  if (b.kind === 'maintenance' && b.app) throw new AppError('INVALID_ARGUMENT', 'A maintenance schedule works on a destination, not an application: drop "app".');
  await destinationTarget(core.inst, b.destination ?? null);
}

export function scheduleRoutes(t: RouteTable): void {
  t.add({ method: 'GET', url: '/api/schedules', response: z.array(R.Schedule), access: 'viewer', tag: 'schedules', summary: 'Schedules with their next five run times', handler: async ({ core }) => (await core.inst.schedules.list()).map((s) => view(core, s)) });
  t.add({ method: 'GET', url: '/api/schedules/:name',
    response: R.Schedule, access: 'viewer', tag: 'schedules', summary: 'One schedule', handler: async ({ params, core }) => view(core, await core.inst.schedules.get(params.name!)) });

  t.add({
    method: 'POST',
    url: '/api/schedules',
    response: R.Schedule,
    access: 'operator',
    tag: 'schedules',
    summary: 'Add a schedule: an application\'s snapshots, full snapshots or maintenance, at a preset (hourly, daily, weekly) or cron time, with retention',
    body: ScheduleBody,
    status: 201,
    async handler({ req, body, actor, principal, core }) {
      await historyGuard(core, principal!.role, actor, body.name, req.ip, body.kind === 'maintenance' ? (body.maintenance?.prune ?? true) : false, body.retention);
      const timezone = checkTimezone(body.timezone);
      const cron = resolveCron(body.cron, timezone);
      await checkTargets(core, body);
      const s = await core.inst.schedules.add(
        { name: body.name, kind: body.kind, app: body.kind === 'backup' ? (body.app ?? null) : null, destination: body.destination ?? null, cron, timezone, retention: body.retention, tags: body.tags, paused: !!body.paused, ...(body.kind === 'maintenance' ? { maintenance: body.maintenance ?? { readDataPercent: 5, prune: true } } : {}) },
        core.clock.now(),
      );
      await core.audit(actor, 'schedule.add', s.name, req.ip, 'ok', { cron, timezone, app: s.app, kind: s.kind });
      return view(core, s);
    },
  });

  t.add({
    method: 'PATCH',
    url: '/api/schedules/:name',
    response: R.Schedule,
    access: 'operator',
    tag: 'schedules',
    summary: 'Change a schedule (time, zone, retention, tags, destination, pause)',
    body: SchedulePatch,
    async handler({ req, body, params, actor, principal, core }) {
      const cur = await core.inst.schedules.get(params.name!);
      await historyGuard(core, principal!.role, actor, cur.name, req.ip, (body as { maintenance?: { prune?: boolean } }).maintenance?.prune ?? false, (body as { retention?: RetentionRules }).retention);
      const timezone = body.timezone ? checkTimezone(body.timezone) : cur.timezone;
      const patch = { ...body, timezone, ...(body.cron ? { cron: resolveCron(body.cron, timezone) } : {}) };
      if (body.destination !== undefined) await destinationTarget(core.inst, body.destination);
      const s = await core.inst.schedules.update(cur.id, patch as never, core.clock.now());
      await core.audit(actor, 'schedule.update', s.name, req.ip, 'ok', body as Record<string, unknown>);
      return view(core, s);
    },
  });

  for (const paused of [true, false]) {
    t.add({
      method: 'POST',
      url: `/api/schedules/:name/${paused ? 'pause' : 'resume'}`,
      response: R.Schedule,
      access: 'operator',
      tag: 'schedules',
      summary: paused ? 'Pause a schedule' : 'Resume a paused schedule',
      async handler({ req, params, actor, core }) {
        const cur = await core.inst.schedules.get(params.name!);
        const s = await core.inst.schedules.update(cur.id, { paused }, core.clock.now());
        await core.audit(actor, paused ? 'schedule.pause' : 'schedule.resume', s.name, req.ip, 'ok');
        return view(core, s);
      },
    });
  }

  t.add({
    method: 'POST',
    url: '/api/schedules/:name/run',
    response: R.Job,
    access: 'operator',
    tag: 'schedules',
    summary: 'Run a schedule now (with its retention); skipped when its previous run is still going',
    status: 202,
    async handler({ req, params, actor, core }) {
      const s = await core.inst.schedules.get(params.name!);
      const r = await core.fireSchedule(s, core.clock.now());
      await core.audit(actor, 'schedule.run', s.name, req.ip, r.started ? 'ok' : 'skipped');
      if (!r.started) throw new AppError('CONFLICT', `Schedule ${s.name} did not start: ${r.reason}`);
      return core.runner.live(r.jobId) ?? (await core.inst.jobs.get(r.jobId));
    },
  });

  t.add({
    method: 'GET',
    url: '/api/schedules/:name/retention',
    response: R.RetentionPreview,
    access: 'viewer',
    tag: 'schedules',
    summary: 'What the schedule\'s retention would keep and forget now (a dry run)',
    async handler({ params, core }) {
      const s = await core.inst.schedules.get(params.name!);
      return previewScheduleRetention(core.env, s);
    },
  });

  t.add({
    method: 'DELETE',
    url: '/api/schedules/:name',
    response: R.Ack('removed'),
    access: 'operator',
    tag: 'schedules',
    summary: 'Remove a schedule (its snapshots stay)',
    async handler({ req, params, actor, core }) {
      const s = await core.inst.schedules.get(params.name!);
      await core.inst.schedules.remove(s.id);
      await core.audit(actor, 'schedule.remove', s.name, req.ip, 'ok');
      return { removed: s.name };
    },
  });

  t.add({
    method: 'POST',
    url: '/api/schedules/preview',
    response: R.CronPreview,
    access: 'viewer',
    tag: 'schedules',
    summary: 'Check a preset or cron expression: its canonical form, a description and the next run times',
    body: CronPreviewBody,
    async handler({ body, core }) {
      const timezone = checkTimezone(body.timezone);
      const cron = resolveCron(body.cron, timezone);
      return { cron, timezone, description: describeCron(cron, timezone), nextRuns: nextRuns(cron, timezone, core.clock.now(), body.count).map((d) => d.toISOString()) };
    },
  });
}

/**
 * Forgetting snapshots (retention) and pruning are admin-only, so an operator's
 * schedule may keep snapshots but never shorten history (docs/SECURITY.md).
 */
async function historyGuard(core: ServerCore, role: string, actor: string, name: string, ip: string, prunes: boolean, retention: RetentionRules | undefined): Promise<void> {
  if (role === 'admin') return;
  const forgets = retention !== undefined && !isEmptyPolicy(retentionPolicy(retention));
  if (!forgets && !prunes) return;
  await core.audit(actor, 'schedule.history', name, ip, 'forbidden', { retention: forgets, prune: prunes });
  throw new AppError('FORBIDDEN', `Schedule ${name}: ${forgets ? 'retention rules forget snapshots' : 'pruning deletes data'}, which only an admin may set up; an operator's schedule keeps every snapshot${prunes ? ' (give maintenance.prune: false)' : ''}.`);
}
