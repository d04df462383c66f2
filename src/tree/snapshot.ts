import { AppError, matchPrefix } from '../kernel/index.js';
import type { SnapshotLister } from '../repo/index.js';

export interface SnapshotWarning {
  path?: string;
  message: string;
}

export interface SnapshotSummary {
  files: number;
  dirs: number;
  bytes: number;
  newFiles: number;
  changedFiles: number;
  unchangedFiles: number;
  /** Raw bytes of blobs this snapshot added to the repository. */
  newBytes: number;
  /** Stored (compressed, encrypted) bytes it added. */
  storedBytes: number;
  durationMs: number;
}

/** What every snapshot manifest holds (snapshots/<id>, sealed). Its id is the SHA-256 of the stored object. */
interface ManifestBase {
  version: 1;
  time: string;
  host: string;
  username: string;
  paths: string[];
  tags: string[];
  parent?: string;
  tree: string;
  partial: boolean;
  warnings: SnapshotWarning[];
  warningCount: number;
  summary: SnapshotSummary;
  program: string;
  /**
   * The id the snapshot was first written under, kept by every copy, archive and
   * upload (absent where it was first written: there its id is its name). A
   * snapshot is found by either, anywhere it goes.
   */
  origin?: string;
}

/** A snapshot's identity across repositories: the id it was first written under. */
export function identityOf(ref: SnapshotRef): string {
  return ref.snapshot.origin ?? ref.id;
}

/** A snapshot of paths (`snapshot create --path`): no application metadata. */
export interface FileSnapshot extends ManifestBase {
  type?: undefined;
  status?: undefined;
  note?: undefined;
  schedule?: undefined;
  strongboxVersion?: undefined;
  formatVersion?: undefined;
  runId?: undefined;
  applications?: undefined;
  instance?: undefined;
  errors?: undefined;
  log?: undefined;
}

/** An application (partial) snapshot: a directory per application and component, their records, the run's log. */
export interface ApplicationSnapshot extends ManifestBase {
  type: 'application';
  /** How the run ended. */
  status: SnapshotStatus;
  note?: string;
  /** The schedule that made it: its retention applies to its own snapshots only. */
  schedule?: string;
  /** The Strongbox version that wrote it, and the repository format version it needs. */
  strongboxVersion?: string;
  formatVersion?: number;
  /** A random id given to the run before the snapshot existed; hooks see it as STRONGBOX_RUN_ID. */
  runId?: string;
  applications: AppRecord[];
  instance?: undefined;
  /** Errors that are not one application's (the instance state). */
  errors?: string[];
  /** The run's log: blob ids of its text (`snapshot logs`). */
  log?: string[];
}

/** A full snapshot: every application and the instance's own state, under /_instance in the tree. */
export interface FullSnapshot extends Omit<ApplicationSnapshot, 'type' | 'instance'> {
  type: 'full';
  instance?: { path: string; files: string[] };
}

/** A snapshot manifest, by its type: paths, an application snapshot or a full one. */
export type Snapshot = FileSnapshot | ApplicationSnapshot | FullSnapshot;

export type SnapshotStatus = 'completed' | 'partially_failed' | 'failed';

/** One application in a snapshot: the equivalent of the seeds' metadata.json. */
export interface AppRecord {
  name: string;
  version: string;
  /** The spec as it was (secrets are only ever referenced in specs, never inline). */
  spec: unknown;
  status: SnapshotStatus;
  /** Where its components are in the snapshot tree: /<app>. */
  path: string;
  components: ComponentRecord[];
  hooks: HookRecord[];
  errors: string[];
  startedAt: string;
  durationMs: number;
}

export interface ComponentRecord {
  name: string;
  kind: string;
  /** The source in words (a URL without credentials, a path). */
  source: string;
  /** partially_failed: captured, with parts missing that `error` names (a volume of another type). */
  status: 'completed' | 'partially_failed' | 'failed' | 'skipped';
  error?: string;
  /** In the snapshot tree: /<app>/<component>[/<artifact>]. */
  path: string;
  artifact?: string;
  bytes: number;
  items: number;
  /** SHA-256 of the artifact stream (stream kinds), checked again on restore. */
  sha256?: string;
  /** Tool versions and format facts; never secrets. */
  info: Record<string, string | number | boolean>;
  newBytes: number;
  warnings: number;
  startedAt: string;
  durationMs: number;
}

export interface HookRecord {
  name: string;
  phase: string;
  component?: string;
  status: 'succeeded' | 'failed' | 'skipped';
  onError: 'fail' | 'continue';
  exitCode: number | null;
  durationMs: number;
  error?: string;
  stdout: string;
  stderr: string;
}

export interface SnapshotRef {
  id: string;
  snapshot: Snapshot;
}

export async function listSnapshots(repo: SnapshotLister): Promise<SnapshotRef[]> {
  // Several manifests in flight: on an object store each is a request, and a repository may hold thousands.
  const ids = await repo.listNames('snapshots');
  const out: SnapshotRef[] = (await repo.loadObjects('snapshots', ids)).map((b, i) => ({ id: ids[i]!, snapshot: JSON.parse(b.toString('utf8')) as Snapshot }));
  return out.sort((a, b) => a.snapshot.time.localeCompare(b.snapshot.time) || a.id.localeCompare(b.id));
}

/** Resolves an id, a unique prefix of one, or `latest`. */
export async function findSnapshot(repo: SnapshotLister, ref: string): Promise<SnapshotRef> {
  if (ref === 'latest') {
    const all = await listSnapshots(repo);
    const last = all[all.length - 1];
    if (!last) throw new AppError('NOT_FOUND', 'The repository has no snapshots yet.');
    return last;
  }
  if (!/^[0-9a-f]+$/.test(ref)) throw new AppError('INVALID_ARGUMENT', `"${ref}" is not a snapshot id (hex digits, or "latest").`);
  const match = matchPrefix(ref, await repo.listNames('snapshots'));
  if (match === 'ambiguous') throw new AppError('AMBIGUOUS_ID', `"${ref}" matches several snapshots; give more characters of the id.`);
  if (match !== undefined) return { id: match, snapshot: await repo.loadJSON<Snapshot>('snapshots', match) };
  return byOrigin(ref, await listSnapshots(repo), repo.location);
}

/**
 * A snapshot by the id it was first written under (a copy, an archive or an
 * upload keeps it as `origin`), when no snapshot here has that name.
 */
export function byOrigin(ref: string, all: SnapshotRef[], location: string): SnapshotRef {
  const m = all.filter((s) => s.snapshot.origin?.startsWith(ref));
  if (m.length === 1) return m[0]!;
  if (m.length > 1) throw new AppError('AMBIGUOUS_ID', `"${ref}" matches several snapshots; give more characters of the id.`);
  throw new AppError('NOT_FOUND', `No snapshot "${ref}" in ${location}. "strongbox snapshot list" shows them.`);
}
