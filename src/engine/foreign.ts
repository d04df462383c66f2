import { AppError, throwIfAborted } from '../kernel/index.js';
import type { BlobLocator } from '../repo/index.js';
import { walkTree, type SnapshotRef } from '../tree/index.js';
import { NAME_RE } from '../spec/common.js';

/** What an archive or another repository really holds, measured rather than read from its manifests. */
export interface ForeignReport {
  snapshots: number;
  files: number;
  dirs: number;
  /** Bytes the snapshots expand to: the sum of every file's chunks, as the index says. */
  expandedBytes: number;
  /** Why the input is not what Strongbox writes (empty when it is sane). */
  problems: string[];
}

export interface ForeignLimits {
  /** Most files (and other entries) all snapshots together may expand to. */
  maxFiles: number;
  /** Most bytes all snapshots together may expand to. */
  maxBytes: number;
}

/** Defaults: far beyond any real instance, far below what exhausts a machine; STRONGBOX_IMPORT_MAX_FILES / _MAX_BYTES change them. */
export function importLimits(env: NodeJS.ProcessEnv = process.env): ForeignLimits {
  const num = (v: string | undefined, d: number) => (v && /^\d+$/.test(v) ? Number(v) : d);
  return { maxFiles: num(env.STRONGBOX_IMPORT_MAX_FILES, 100_000_000), maxBytes: num(env.STRONGBOX_IMPORT_MAX_BYTES, 2 ** 50) };
}

const STATUSES = new Set(['completed', 'partially_failed', 'failed']);
const TYPES = new Set([undefined, 'application', 'full']);
const EARLIEST = Date.parse('2000-01-01T00:00:00Z');
const SKEW_MS = 24 * 3600e3;

/**
 * Problems in a manifest's fields that ordering, retention and restore rely
 * on: a time that is not a time or lies in the future (it would outlive every
 * retention rule), an unknown status or type, a malformed tree id or name.
 */
export function manifestProblems(ref: SnapshotRef, now: Date): string[] {
  const s = ref.snapshot;
  const id = ref.id.slice(0, 8);
  const out: string[] = [];
  const t = typeof s.time === 'string' ? Date.parse(s.time) : NaN;
  if (!Number.isFinite(t) || t < EARLIEST) out.push(`snapshot ${id}: its time ${JSON.stringify(s.time).slice(0, 40)} is not a plausible time`);
  else if (t > now.getTime() + SKEW_MS) out.push(`snapshot ${id}: its time ${s.time} is in the future (retention would keep it forever)`);
  if (s.status !== undefined && !STATUSES.has(s.status)) out.push(`snapshot ${id}: unknown status ${JSON.stringify(s.status).slice(0, 40)}`);
  if (!TYPES.has(s.type)) out.push(`snapshot ${id}: unknown type ${JSON.stringify(s.type).slice(0, 40)}`);
  if (typeof s.tree !== 'string' || !/^[0-9a-f]{64}$/.test(s.tree)) out.push(`snapshot ${id}: malformed tree id`);
  if (s.origin !== undefined && (typeof s.origin !== 'string' || !/^[0-9a-f]{64}$/.test(s.origin))) out.push(`snapshot ${id}: malformed origin id`);
  if (s.applications !== undefined && (!Array.isArray(s.applications) || s.applications.some((a) => typeof a?.name !== 'string' || !NAME_RE.test(a.name) || !Array.isArray(a.components)))) out.push(`snapshot ${id}: malformed application records`);
  if (!s.summary || typeof s.summary.bytes !== 'number') out.push(`snapshot ${id}: malformed summary`);
  return out;
}

/**
 * Measures foreign snapshots before they are imported: every manifest checked
 * for sanity, every tree walked, every file's size compared with the sum of
 * its chunks; stops as soon as a limit is passed (a tree that names the same
 * subtree over and over expands without end), with TOO_LARGE.
 */
export async function inspectForeign(repo: BlobLocator, snapshots: SnapshotRef[], o: { now: Date; limits: ForeignLimits; signal?: AbortSignal }): Promise<ForeignReport> {
  const report: ForeignReport = { snapshots: snapshots.length, files: 0, dirs: 0, expandedBytes: 0, problems: [] };
  const over = (what: string) => {
    throw new AppError('TOO_LARGE', `The snapshots expand to more than ${what} (the import limit; STRONGBOX_IMPORT_MAX_FILES and STRONGBOX_IMPORT_MAX_BYTES raise it). Nothing was imported.`);
  };
  for (const ref of snapshots) {
    const bad = manifestProblems(ref, o.now);
    report.problems.push(...bad);
    if (bad.some((b) => b.includes('tree id'))) continue;
    await walkTree(repo, ref.snapshot.tree, (p, node) => {
      throwIfAborted(o.signal);
      if (node.type === 'dir') report.dirs++;
      else report.files++;
      if (report.files + report.dirs > o.limits.maxFiles) over(`${o.limits.maxFiles} entries`);
      if (node.type !== 'file') return;
      let sum = 0;
      for (const hex of node.content ?? []) {
        const loc = typeof hex === 'string' && /^[0-9a-f]{64}$/.test(hex) ? repo.locate(Buffer.from(hex, 'hex')) : undefined;
        if (!loc) {
          report.problems.push(`snapshot ${ref.id.slice(0, 8)}: ${p.toString('utf8')} names a chunk the archive does not hold`);
          return;
        }
        sum += loc.rawLength;
      }
      report.expandedBytes += sum;
      if (report.expandedBytes > o.limits.maxBytes) over(`${o.limits.maxBytes} bytes`);
      if ((node.size ?? 0) !== sum) report.problems.push(`snapshot ${ref.id.slice(0, 8)}: ${p.toString('utf8')} claims ${node.size ?? 0} bytes but its chunks hold ${sum}`);
    });
  }
  return report;
}
