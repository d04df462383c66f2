import type { SnapshotRef } from '../../tree/index.js';
import type { SnapshotView } from './responses.js';

export type { SnapshotView };

/** A snapshot as listings show it (API, CLI, console): the contract's SnapshotView. */
export function snapshotView(ref: SnapshotRef, pinned: boolean, destination: string | null, verified: SnapshotView['verified'] = null): SnapshotView {
  const m = ref.snapshot;
  return {
    id: ref.id,
    time: m.time,
    type: m.type ?? 'files',
    status: m.status ?? (m.partial ? 'partially_failed' : 'completed'),
    host: m.host,
    tags: m.tags,
    note: m.note ?? null,
    applications: (m.applications ?? []).map((a) => ({ name: a.name, version: a.version, status: a.status })),
    paths: m.paths,
    bytes: m.summary.bytes,
    newBytes: m.summary.newBytes,
    storedBytes: m.summary.storedBytes,
    durationMs: m.summary.durationMs,
    warningCount: m.warningCount,
    pinned,
    destination,
    verified,
  };
}



