import { AppError } from '../../kernel/index.js';
import type { Instance } from '../instance.js';

export interface RemoveApplicationResult {
  removed: string;
  /** Schedules that snapshotted it, removed with it (only when asked). */
  schedulesRemoved: string[];
}

/**
 * Removes an application from this instance (its snapshots stay in the
 * repositories). An application that schedules still snapshot is refused —
 * they would fail on every run and it would silently stop being protected —
 * unless `withSchedules`, which removes those schedules too. One home for the
 * CLI and the server.
 */
export async function removeApplication(inst: Instance, name: string, o: { withSchedules?: boolean } = {}): Promise<RemoveApplicationResult> {
  await inst.applications.get(name);
  const schedules = (await inst.schedules.list()).filter((s) => s.kind === 'backup' && s.app === name);
  if (schedules.length > 0 && !o.withSchedules) {
    throw new AppError('CONFLICT', `Application ${name} is snapshotted by schedule(s) ${schedules.map((s) => s.name).join(', ')}; remove them first, or remove the application with its schedules (--with-schedules, API withSchedules=true). Nothing was changed.`, { details: { schedules: schedules.map((s) => s.name) } });
  }
  for (const s of schedules) await inst.schedules.remove(s.id);
  await inst.applications.remove(name);
  return { removed: name, schedulesRemoved: schedules.map((s) => s.name) };
}
