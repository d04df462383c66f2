import { z } from 'zod';
import { childEnv } from '../kernel/index.js';
import type { HookRecord } from '../tree/index.js';
import { describeExit, runProcess } from './process.js';

/** "30s", "500ms", "2m", "1h" or a number of seconds → milliseconds. */
export function parseTimeout(v: string | number): number {
  if (typeof v === 'number') return Math.round(v * 1000);
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(v.trim());
  if (!m) throw new Error(`"${v}" is not a duration (examples: 500ms, 30s, 5m, 1h)`);
  return Math.round(Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h']);
}

export const durationSchema = z
  .union([z.number().positive(), z.string().regex(/^\d+(?:\.\d+)?(ms|s|m|h)$/, 'a duration such as 500ms, 30s, 5m or 1h')])
  .describe('A duration: 500ms, 30s, 5m, 1h, or a number of seconds.');

export const hookSchema = z.strictObject({
  name: z.string().min(1).max(100),
  exec: z.array(z.string()).min(1, 'exec is the program and its arguments, e.g. ["notes-ctl", "maintenance", "on"]'),
  timeout: durationSchema.optional().describe('Default 30s; the hook and everything it started are killed when it passes.'),
  onError: z.enum(['fail', 'continue']).optional().describe('Backup hooks default to fail, restore hooks to continue.'),
  env: z.record(z.string(), z.string()).optional(),
  workdir: z.string().optional(),
});
export const hookListSchema = z.array(hookSchema);
export type Hook = z.infer<typeof hookSchema>;

export const DEFAULT_HOOK_TIMEOUT_MS = 30_000;

/** One hook's run, as recorded in snapshot metadata. */
export type HookResult = HookRecord;

export interface HookRunOptions {
  phase: 'preBackup' | 'postBackup' | 'preRestore' | 'postRestore' | 'migrate';
  app: string;
  component?: string;
  /** Variables that tell the hook where it runs (STRONGBOX_*). */
  env: Record<string, string>;
  signal?: AbortSignal;
  log: (line: string) => void;
}

/**
 * Runs one phase's hooks in order. A failing hook with onError=fail stops the
 * phase (the rest are recorded as skipped) and makes `failed` true; with
 * onError=continue it is recorded and the next hook runs.
 */
export async function runHooks(hooks: Hook[] | undefined, o: HookRunOptions): Promise<{ results: HookResult[]; failed: HookResult | undefined }> {
  const results: HookResult[] = [];
  let failed: HookResult | undefined;
  const defaultOnError = o.phase.endsWith('Backup') ? 'fail' : 'continue';
  for (const h of hooks ?? []) {
    const onError = h.onError ?? defaultOnError;
    const base = { name: h.name, phase: o.phase, ...(o.component ? { component: o.component } : {}), onError };
    if (failed) {
      results.push({ ...base, status: 'skipped', exitCode: null, durationMs: 0, error: `skipped: hook "${failed.name}" failed`, stdout: '', stderr: '' });
      continue;
    }
    const timeoutMs = h.timeout !== undefined ? parseTimeout(h.timeout) : DEFAULT_HOOK_TIMEOUT_MS;
    const where = `${o.phase} hook "${h.name}"${o.component ? ` of component ${o.component}` : ''}`;
    o.log(`${where}: running ${h.exec.join(' ')}`);
    const r = await runProcess({
      argv: h.exec,
      env: childEnv({ ...(h.env ?? {}), ...o.env, STRONGBOX_PHASE: o.phase, STRONGBOX_APP: o.app, ...(o.component ? { STRONGBOX_COMPONENT: o.component } : {}) }),
      ...(h.workdir ? { cwd: h.workdir } : {}),
      timeoutMs,
      ...(o.signal ? { signal: o.signal } : {}),
      onLine: (s, line) => o.log(`${where} ${s}: ${line}`),
    });
    const ok = r.exitCode === 0 && !r.timedOut && !r.cancelled && !r.spawnError;
    const res: HookResult = { ...base, status: ok ? 'succeeded' : 'failed', exitCode: r.exitCode, durationMs: r.durationMs, stdout: r.stdout, stderr: r.stderr };
    if (!ok) {
      res.error = `${where} ${describeExit(r, timeoutMs)}`;
      o.log(`${res.error}${onError === 'continue' ? ' (onError: continue)' : ''}`);
      if (onError === 'fail') failed = res;
    } else o.log(`${where}: done in ${r.durationMs} ms`);
    results.push(res);
  }
  return { results, failed };
}
