import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { AppError, EXIT_PARTIAL } from '../../kernel/index.js';
import type { AppRestoreResult, TargetMapping } from '../../engine/index.js';
import { readSpec } from './app.js';
import { listSnapshots, type Snapshot, type SnapshotRef } from '../../tree/index.js';
import { cachedSnapshots, instanceHome, restoreSnapshotRef, snapshotApplications } from '../../app/index.js';
import type { Repository } from '../../repo/index.js';
import { formatBytes, formatDuration, ProgressBar, table, type Output } from '../render.js';
import { interruptSignal, outcome, output, resolveRepo, withInstance } from '../context.js';


/** Snapshot listings through the catalog's cache when this machine has an instance; straight from the repository otherwise. */
export async function listSnapshotsCached(repo: Repository): Promise<SnapshotRef[]> {
  if (!existsSync(join(instanceHome(), 'catalog.sqlite'))) return listSnapshots(repo);
  return withInstance((inst) => cachedSnapshots(inst, repo));
}

export async function createAppSnapshot(cmd: Command, o: { app?: string[]; full?: boolean; tag?: string[]; note?: string; host?: string }): Promise<void> {
  const out = output(cmd);
  const { signal, dispose } = interruptSignal();
  try {
    const target = { name: null, ...(await resolveRepo(cmd)) };
    await withInstance(async (inst) => {
      if (o.full && (await inst.applications.list()).length === 0) out.err('note: this instance has no applications yet; the full snapshot holds only the instance state');
      const bar = new ProgressBar('backing up', out);
      let res;
      try {
        res = await snapshotApplications(inst, target, { ...(o.app ? { apps: o.app } : {}), full: !!o.full, tags: o.tag ?? [], ...(o.note ? { note: o.note } : {}), ...(o.host ? { host: o.host } : {}) }, { signal, sink: bar });
      } finally {
        bar.clear();
      }
      printAppSnapshotResult(out, res);
    });
  } finally {
    dispose();
  }
}

/** Prints a snapshot's outcome the same way for a local run and a server's job. */
export function printAppSnapshotResult(out: Output, res: { id: string; snapshot: Snapshot }): void {
  const m = res.snapshot;
  if (out.json) out.data({ id: res.id, ...m });
  else {
    for (const a of m.applications ?? []) {
      for (const c of a.components) out.err(`${a.name}/${c.name}: ${c.status}${c.status === 'completed' ? `, ${formatBytes(c.bytes)} (${formatBytes(c.newBytes)} new) in ${formatDuration(c.durationMs)}` : c.error ? ` — ${c.error}` : ''}`);
      for (const e of a.errors) out.err(`${a.name}: ${e}`);
    }
    out.err(`snapshot ${m.status}: ${formatBytes(m.summary.bytes)}, added ${formatBytes(m.summary.newBytes)} (${formatBytes(m.summary.storedBytes)} stored) in ${formatDuration(m.summary.durationMs)}`);
    out.out(res.id);
  }
  if (m.status === 'partially_failed') outcome.exitCode = EXIT_PARTIAL;
  if (m.status === 'failed') {
    const why = (m.applications ?? []).flatMap((a) => a.errors.map((e) => `${a.name}: ${e}`));
    throw new AppError('INTERNAL', `Snapshot ${res.id.slice(0, 8)} failed: ${why.join('; ')}. "strongbox snapshot logs ${res.id.slice(0, 8)}" has the details.`, { details: { reported: false } });
  }
}

export function showAppSnapshot(out: Output, id: string, m: Snapshot): void {
  const lines = [
    `snapshot  ${id}`,
    `type      ${m.type}${m.type === 'full' ? ' (every application and the instance state)' : ''}`,
    `status    ${m.status}`,
    `time      ${m.time}`,
    `host      ${m.host}`,
    `tags      ${m.tags.join(', ') || '-'}`,
    ...(m.note ? [`note      ${m.note}`] : []),
    `made by   Strongbox ${m.strongboxVersion ?? '?'} (format ${m.formatVersion ?? 1}), run ${m.runId ?? '-'}`,
    `size      ${formatBytes(m.summary.bytes)}; added ${formatBytes(m.summary.newBytes)} (${formatBytes(m.summary.storedBytes)} stored) in ${formatDuration(m.summary.durationMs)}`,
  ];
  if (m.instance) lines.push(`instance  ${m.instance.files.join(', ')} (under ${m.instance.path})`);
  for (const e of m.errors ?? []) lines.push(`error     ${e}`);
  out.out(lines.join('\n'));
  for (const a of m.applications ?? []) {
    out.out(`\napplication ${a.name} ${a.version}: ${a.status} (${formatDuration(a.durationMs)})`);
    out.out(
      table(
        a.components.map((c) => [c.name, c.kind, c.status, formatBytes(c.bytes), String(c.items), c.sha256 ? c.sha256.slice(0, 12) : '-', formatDuration(c.durationMs), c.source]),
        ['Component', 'Kind', 'Status', 'Size', 'Items', 'SHA-256', 'Time', 'Source'],
      ),
    );
    for (const c of a.components) {
      if (c.error) out.out(`  ${c.name}: ${c.error}`);
      const info = Object.entries(c.info).map(([k, v]) => `${k}=${String(v)}`).join(', ');
      if (info) out.out(`  ${c.name}: ${info}`);
    }
    if (a.hooks.length) {
      out.out(table(a.hooks.map((h) => [h.phase, h.component ?? '-', h.name, h.status, h.exitCode === null ? '-' : String(h.exitCode), `${h.durationMs} ms`, h.error ?? '']), ['Phase', 'Component', 'Hook', 'Status', 'Exit', 'Time', 'Error']));
    }
    for (const e of a.errors) out.out(`  error: ${e}`);
  }
  if (m.warningCount > 0) {
    out.out(`\n${m.warningCount} warning(s):`);
    for (const w of m.warnings) out.out(`  ${w.path ? w.path + ': ' : ''}${w.message}`);
  }
}

export function parseMaps(maps: string[] | undefined): TargetMapping[] {
  return (maps ?? []).map((m) => {
    const eq = m.indexOf('=');
    const key = eq > 0 ? m.slice(0, eq) : '';
    const dot = key.lastIndexOf('.');
    const first = key.indexOf('.');
    if (eq <= 0 || first <= 0) throw new AppError('USAGE', `--map ${m}: expected COMPONENT.FIELD=VALUE, e.g. --map db.url=postgres://app@10.0.0.5/app_copy or --map uploads.path=/srv/new.`);
    // passwordFrom.env is a two-part field: split at the first dot after the component.
    const component = key.slice(0, first);
    const field = key.slice(first + 1);
    void dot;
    return { component, field, value: m.slice(eq + 1) };
  });
}

export async function restoreAppSnapshot(
  cmd: Command,
  repo: Repository,
  ref: SnapshotRef,
  o: { component?: string[]; app?: string[]; map?: string[]; spec?: string[]; spaceCheck?: boolean; dryRun?: boolean; force?: boolean },
): Promise<void> {
  const out = output(cmd);
  const { signal, dispose } = interruptSignal();
  try {
    await withInstance(async (inst) => {
      const bar = new ProgressBar('restoring', out);
      let res: AppRestoreResult;
      try {
        const specs = (o.spec ?? []).map((f) => readSpec(f));
        // The local CLI acts as this machine's admin: it can read the instance's key and catalog anyway.
        res = await restoreSnapshotRef(inst, repo, ref, { ...(o.app ? { apps: o.app } : {}), ...(o.component ? { components: o.component } : {}), maps: parseMaps(o.map), specs, ...(o.spaceCheck === false ? { spaceCheck: false } : {}), dryRun: !!o.dryRun, force: !!o.force }, { signal, sink: bar, role: 'admin' });
      } finally {
        bar.clear();
      }
      printRestoreResult(out, res);
    });
  } finally {
    dispose();
  }
}

/** Prints a restore's plan or outcome and sets the exit status, for a local run and a server's job alike. */
export function printRestoreResult(out: Output, res: AppRestoreResult): void {
  if (out.json) out.data(res);
  else printRestore(out, res);
  if (res.dryRun && !res.ok) throw new AppError('PREFLIGHT_FAILED', 'The preflight found problems (listed above); nothing was changed.', { details: { reported: true } });
  if (res.status === 'partially_failed') outcome.exitCode = EXIT_PARTIAL;
  if (res.status === 'failed') throw new AppError('RESTORE_INCOMPLETE', `The restore failed: ${res.outcomes.filter((x) => x.error).map((x) => `${x.app}/${x.component}: ${x.error}`).join('; ')}`);
}

const sourceWords: Record<AppRestoreResult['commands'][number]['source'], string> = {
  installed: 'from the spec installed here',
  given: 'from --spec',
  'restored-instance': "from the snapshot's instance state, which this restore installs",
  untrusted: 'from the snapshot: not trusted',
};

function printRestore(out: Output, res: AppRestoreResult): void {
  if (res.dryRun || !res.ok) {
    out.out(`Restore plan for snapshot ${res.snapshot.slice(0, 8)}${res.dryRun ? ' (dry run: nothing is changed)' : ''}:`);
    for (const l of res.instancePlan) out.out(`  instance: ${l}`);
    for (const c of res.commands) out.out(`  ${c.willRun ? 'will run' : 'will NOT run'} ${c.app}${c.component ? `/${c.component}` : ''} ${c.phase}: ${c.command}  [${sourceWords[c.source]}]`);
    for (const p of res.plan) {
      out.out(`  ${p.app}/${p.component} (${p.kind}) → ${p.preflight.target}`);
      for (const l of p.preflight.plan) out.out(`      will ${l}`);
      for (const l of p.preflight.problems) out.out(`      PROBLEM: ${l}`);
    }
    for (const s of res.skipped) out.out(`  ${s.app}/${s.component}: left out, ${s.reason}`);
    out.out(res.ok ? 'Preflight passed.' : 'Preflight failed: fix the problems above, choose other targets with --map, or use --force for targets that are merely not empty.');
    return;
  }
  for (const l of res.instanceLog) out.err(`instance: ${l}`);
  for (const x of res.outcomes) out.err(`${x.app}/${x.component}: ${x.status} → ${x.target}${x.status === 'completed' ? ` (${formatBytes(x.bytes)} in ${formatDuration(x.durationMs)})` : x.error ? ` — ${x.error}` : ''}`);
  for (const h of res.hooks.filter((h) => h.status !== 'succeeded')) out.err(`hook ${h.phase} ${h.name}: ${h.status}${h.error ? ` — ${h.error}` : ''}`);
  for (const s of res.skipped) out.err(`${s.app}/${s.component}: left out, ${s.reason}`);
  out.out(`Restore of ${res.snapshot.slice(0, 8)}: ${res.status}`);
}
