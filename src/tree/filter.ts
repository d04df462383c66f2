import type { SnapshotRef } from './snapshot.js';

/** Which snapshots a listing shows: the same rules in the CLI (local), the API and so the remote CLI and the console. */
export interface SnapshotFilter {
  /** Any of these tags. */
  tags?: string[] | undefined;
  host?: string | undefined;
  /** Snapshots that include this path. */
  path?: string | undefined;
  /** Snapshots that hold this application. */
  app?: string | undefined;
  type?: 'files' | 'application' | 'full' | undefined;
  status?: string | undefined;
}

export function matchesFilter(ref: SnapshotRef, f: SnapshotFilter): boolean {
  const s = ref.snapshot;
  const status = s.status ?? (s.partial ? 'partially_failed' : 'completed');
  return (
    (!f.tags?.length || s.tags.some((t) => f.tags!.includes(t))) &&
    (!f.host || s.host === f.host) &&
    (!f.path || s.paths.includes(f.path)) &&
    (!f.app || (s.applications ?? []).some((a) => a.name === f.app)) &&
    (!f.type || (s.type ?? 'files') === f.type) &&
    (!f.status || status === f.status)
  );
}
