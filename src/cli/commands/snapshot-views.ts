import { AppError, EXIT_PARTIAL } from '../../kernel/index.js';
import type { AppRestoreResult, Snapshot, TargetMapping } from '../../operations/index.js';
import { formatBytes, formatDuration, quoteControl, table, type Output } from '../render.js';
import { outcome } from '../context.js';

/**
 * How snapshots and their restores look on the command line: the same
 * renderers for a local run and a server's job.
 */


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
    for (const v of res.versions ?? []) {
      out.out(`  version: ${v.app} was ${v.snapshot} when the snapshot was made; it restores with the spec of ${v.spec}${v.migrate ? ', then runs its migrate hooks' : ''}`);
      for (const d of v.differences) out.out(`      differs: ${d}`);
    }
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
  for (const v of res.versions ?? []) out.err(`${v.app}: data of ${v.snapshot} restored with the spec of ${v.spec}${v.migrate ? ' (migrate hooks ran)' : ''}`);
  for (const x of res.outcomes) out.err(`${x.app}/${x.component}: ${x.status} → ${x.target}${x.status === 'completed' ? ` (${formatBytes(x.bytes)} in ${formatDuration(x.durationMs)})` : x.error ? ` — ${x.error}` : ''}`);
  for (const h of res.hooks.filter((h) => h.status !== 'succeeded')) out.err(`hook ${h.phase} ${h.name}: ${h.status}${h.error ? ` — ${h.error}` : ''}`);
  for (const s of res.skipped) out.err(`${s.app}/${s.component}: left out, ${s.reason}`);
  out.out(`Restore of ${res.snapshot.slice(0, 8)}: ${res.status}`);
}

/** The snapshot listing, the same for a local repository and a server. */
/** A snapshot's latest restore drill in words: what operators look at (docs/DRILLS.md). */
export function verifiedText(v: { status: string; at: string; drill: string } | null | undefined, short = false): string {
  if (!v) return short ? 'never' : 'never verified (no restore drill yet: "strongbox drill run SNAPSHOT")';
  const day = v.at.slice(0, 10);
  if (v.status === 'passed') return short ? `yes ${day}` : `verified restorable on ${day} (drill ${v.drill})`;
  return short ? `FAILED ${day}` : `drill failed on ${day} (drill ${v.drill}: "strongbox drill show ${v.drill}")`;
}

export function renderSnapshotList(out: Output, all: { id: string; snapshot: Snapshot; verified?: { status: string; at: string; drill: string } | null }[]): void {
  if (out.json) return out.data(all.map((s) => ({ id: s.id, ...s.snapshot, warnings: undefined, verified: s.verified ?? null })));
  if (all.length === 0) return out.out('No snapshots yet. Create one with "strongbox snapshot create --path DIR".');
  out.out(
    table(
      all.map((s) => [
        s.id.slice(0, 8),
        s.snapshot.time.replace('T', ' ').slice(0, 19),
        s.snapshot.host,
        s.snapshot.type ?? 'files',
        s.snapshot.status ?? (s.snapshot.partial ? 'partial' : 'completed'),
        s.snapshot.tags.join(','),
        formatBytes(s.snapshot.summary.bytes),
        s.snapshot.type === 'application' || s.snapshot.type === 'full' ? verifiedText(s.verified, true) : '-',
        s.snapshot.applications ? s.snapshot.applications.map((a) => `${a.name} ${a.version}`).join(', ') : s.snapshot.paths.join(' '),
      ]),
      ['ID', 'Time (UTC)', 'Host', 'Type', 'Status', 'Tags', 'Size', 'Verified', 'Applications / paths'],
    ),
  );
  out.out(`${all.length} snapshot(s)`);
}

/** A plain file snapshot's manifest in words: the same output locally and through a server. */
export function showFileSnapshot(out: Output, id: string, m: Snapshot): void {
  const lines = [
    `snapshot  ${id}`,
    `time      ${m.time}`,
    `host      ${quoteControl(m.host)} (user ${quoteControl(m.username)})`,
    `paths     ${quoteControl(m.paths.join(', '))}`,
    `tags      ${quoteControl(m.tags.join(', ')) || '-'}`,
    `parent    ${m.parent ?? '-'}`,
    `status    ${m.partial ? `partial: ${m.warningCount} item(s) could not be read` : 'complete'}`,
    `files     ${m.summary.files} (${m.summary.newFiles} new, ${m.summary.changedFiles} changed, ${m.summary.unchangedFiles} unchanged), ${m.summary.dirs} dirs`,
    `size      ${formatBytes(m.summary.bytes)}; added ${formatBytes(m.summary.newBytes)} (${formatBytes(m.summary.storedBytes)} stored)`,
    `duration  ${formatDuration(m.summary.durationMs)}`,
    `program   ${quoteControl(m.program)}`,
  ];
  for (const w of m.warnings) lines.push(`warning   ${quoteControl(w.path ? w.path + ': ' : '')}${quoteControl(w.message)}`);
  out.out(lines.join('\n'));
}
