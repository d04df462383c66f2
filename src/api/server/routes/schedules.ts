import { z } from 'zod';
import * as R from '../../contract/schemas.js';
import { AppError } from '../../../kernel/index.js';
import type { Schedule } from '../../../jobs/index.js';
import { addSchedule, pauseSchedule, previewCron, previewScheduleRetention, removeSchedule, updateSchedule, viewSchedule } from '../../../operations/index.js';
import { CronPreviewBody, ScheduleBody, SchedulePatch } from '../../contract/index.js';
import type { ServerCore } from '../core.js';
import type { RouteTable } from '../http.js';


/** A schedule with its next runs as the scheduler counts them (it skips a run already fired). */
function view(core: ServerCore, s: Schedule) {
  return { ...viewSchedule(core.env, s), nextRuns: core.scheduler.next(s, 5).map((d) => d.toISOString()) };
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
    handler: async ({ body, caller, core }) => view(core, await addSchedule(core.env, body, caller)),
  });

  t.add({
    method: 'PATCH',
    url: '/api/schedules/:name',
    response: R.Schedule,
    access: 'operator',
    tag: 'schedules',
    summary: 'Change a schedule (time, zone, retention, tags, destination, pause)',
    body: SchedulePatch,
    handler: async ({ body, params, caller, core }) => view(core, await updateSchedule(core.env, params.name!, body as never, caller)),
  });

  for (const paused of [true, false]) {
    t.add({
      method: 'POST',
      url: `/api/schedules/:name/${paused ? 'pause' : 'resume'}`,
      response: R.Schedule,
      access: 'operator',
      tag: 'schedules',
      summary: paused ? 'Pause a schedule' : 'Resume a paused schedule',
      handler: async ({ params, caller, core }) => view(core, await pauseSchedule(core.env, params.name!, paused, caller)),
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
    handler: async ({ params, caller, core }) => removeSchedule(core.env, params.name!, caller),
  });

  t.add({
    method: 'POST',
    url: '/api/schedules/preview',
    response: R.CronPreview,
    access: 'viewer',
    tag: 'schedules',
    summary: 'Check a preset or cron expression: its canonical form, a description and the next run times',
    body: CronPreviewBody,
    handler: async ({ body, core }) => previewCron(core.env, body),
  });
}
