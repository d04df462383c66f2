import { throwIfAborted } from '../kernel/index.js';
import { check, prune, type CheckResult, type PruneResult } from '../engine/index.js';
import type { JobOutcome, Schedule } from '../jobs/index.js';
import { targetOf, type Where } from './context.js';
import type { JobOperation } from './operation.js';
import { withCodecPool, type Target } from './repositories.js';

export interface MaintenanceRequest {
  where: Where;
  /** The share of packs read back and verified (0–100). */
  readDataPercent: number;
  /** Prune after a clean check. */
  prune: boolean;
  schedule?: Schedule | undefined;
}

export interface MaintenancePlan {
  req: MaintenanceRequest;
  target: Target;
}

export interface MaintenanceOutcome {
  check: CheckResult;
  prune?: PruneResult;
}

/** Maintenance: a check that reads back a share of the data, then (optionally) prune; the space reclaimed is in the result. */
export const maintenance: JobOperation<MaintenanceRequest, MaintenancePlan, MaintenanceOutcome> = {
  async prepare(env, req) {
    return { req, target: await targetOf(env, req.where) };
  },
  job: (p) => ({ kind: p.req.prune ? 'prune' : 'check', destination: p.target.name, params: { destination: p.target.name, readDataPercent: p.req.readDataPercent, prune: p.req.prune }, scheduleId: p.req.schedule?.id ?? null, exclusive: ['*'] }),
  async run(env, p, ctx) {
    const o = p.req;
    return env.repos.work(p.target, async (repo) => {
      await repo.loadIndex();
      return withCodecPool(repo, async (pool) => {
        ctx.sink?.emit({ type: 'phase', phase: `checking (reading back ${o.readDataPercent}% of the data)` });
        const c = await check({ repo, decoder: pool, readData: o.readDataPercent >= 100 ? true : o.readDataPercent / 100, ...(ctx.signal ? { signal: ctx.signal } : {}), ...(ctx.sink ? { sink: ctx.sink } : {}) });
        if (!c.ok || !o.prune) return { check: c };
        throwIfAborted(ctx.signal);
        ctx.sink?.emit({ type: 'phase', phase: 'pruning' });
        const r = await prune({ repo, decoder: pool, encoder: pool, ...(ctx.signal ? { signal: ctx.signal } : {}), ...(ctx.sink ? { sink: ctx.sink } : {}) });
        ctx.log?.(`prune reclaimed ${r.reclaimedBytes} bytes (${r.bytesBefore} → ${r.bytesAfter})`);
        return { check: c, prune: r };
      });
    });
  },
  outcome(r): JobOutcome {
    const result = { check: { ok: r.check.ok, snapshots: r.check.snapshots, packs: r.check.packs, packsRead: r.check.packsRead, errors: r.check.errors.length }, ...(r.prune ? { prune: { removedPacks: r.prune.remove.length, repackedPacks: r.prune.repack.length, bytesBefore: r.prune.bytesBefore, bytesAfter: r.prune.bytesAfter, reclaimedBytes: r.prune.reclaimedBytes } } : {}) };
    if (!r.check.ok) return { phase: 'failed', result, errors: r.check.errors.slice(0, 20).map((e) => e.message) };
    return { phase: 'completed', result, warnings: r.check.warnings };
  },
  audit: (req, p) => ({ action: 'maintenance.run', target: p?.target.name ?? ('destination' in req.where ? req.where.destination : null), details: { readDataPercent: req.readDataPercent, prune: req.prune } }),
};
