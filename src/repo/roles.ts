import type { Repository } from './repository.js';

/**
 * The small faces of a Repository that the engine asks for: a function takes
 * only what it uses, so its signature says what it can touch (and a test can
 * hand it a fake with just that).
 */

/** Reading snapshot manifests (the location names the repository in messages). */
export type SnapshotLister = Pick<Repository, 'listNames' | 'loadJSON' | 'loadObjects' | 'location'>;

/** Forgetting snapshots: list them, honour pins, remove under a lock. */
export type SnapshotRemover = SnapshotLister & Pick<Repository, 'lock' | 'listPins' | 'listDrills' | 'removeSnapshot'>;

/** Reading blobs by id (trees, data). */
export type BlobReader = Pick<Repository, 'loadBlob'>;

/** Finding where blobs are, without reading them (measuring foreign snapshots). */
export type BlobLocator = BlobReader & Pick<Repository, 'locate'>;

/** What the statistics read: packs, the in-memory index, the manifests. */
export type StatsSource = SnapshotLister & Pick<Repository, 'packs' | 'index' | 'config'>;
