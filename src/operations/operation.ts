import type { JobKind, JobOutcome, JobRequest } from '../jobs/index.js';
import { audit, type Caller, type Env, type RunContext } from './context.js';

/** What a job record says of a plan before it runs (no secrets: params are shown to every viewer). */
export type JobShape = Omit<JobRequest, 'requestedBy' | 'scheduleId'> & { kind: JobKind; scheduleId?: string | null };

/**
 * One use-case that runs as a job (on the server) or in the foreground (the
 * CLI): `prepare` validates and resolves everything — ids, license, role,
 * targets — and refuses before anything exists or changes; `run` does the work,
 * reporting to a sink and stopping on the signal; `outcome` is the job's view
 * of the result. The CLI and the server call the same three.
 */
export interface JobOperation<Req, Plan, Out> {
  prepare(env: Env, req: Req, caller: Caller): Promise<Plan>;
  job(plan: Plan): JobShape;
  run(env: Env, plan: Plan, ctx: RunContext): Promise<Out>;
  outcome(out: Out, plan: Plan): JobOutcome;
  /** The audit entry of a request: recorded "ok" when it starts, "refused" when prepare refuses it. */
  audit(req: Req, plan?: Plan): AuditShape;
}

export interface AuditShape {
  action: string;
  target: string | null;
  details?: Record<string, unknown>;
}

/** Prepares an operation; a refusal is recorded in the audit log with its reason, then thrown. */
export async function prepare<Req, Plan, Out>(op: JobOperation<Req, Plan, Out>, env: Env, req: Req, caller: Caller): Promise<Plan> {
  try {
    return await op.prepare(env, req, caller);
  } catch (err) {
    const a = op.audit(req);
    await audit(env, caller, a.action, a.target, 'refused', { ...a.details, message: (err as Error).message }).catch(() => undefined);
    throw err;
  }
}

/** Records that a prepared operation starts (with the job's id when it runs as one). */
export async function recordStart<Req, Plan, Out>(op: JobOperation<Req, Plan, Out>, env: Env, req: Req, plan: Plan, caller: Caller, extra: Record<string, unknown> = {}): Promise<void> {
  const a = op.audit(req, plan);
  await audit(env, caller, a.action, a.target, 'ok', { ...a.details, ...extra });
}

/** Runs an operation in the foreground (the CLI): prepare, record, run. */
export async function perform<Req, Plan, Out>(op: JobOperation<Req, Plan, Out>, env: Env, req: Req, caller: Caller, ctx: RunContext): Promise<Out> {
  const plan = await prepare(op, env, req, caller);
  await recordStart(op, env, req, plan, caller);
  return op.run(env, plan, ctx);
}
