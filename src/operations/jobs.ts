import type { JobKind } from '../jobs/index.js';
import type { JobOperation } from './operation.js';
import { createSnapshot, type SnapshotRequest } from './snapshot-create.js';
import { restoreSnapshot, type RestoreRequest } from './snapshot-restore.js';
import { copySnapshotsOp, downloadArchive, uploadArchiveOp, type CopyRequest, type DownloadRequest, type UploadRequest } from './snapshot-transfer.js';
import { maintenance, type MaintenanceRequest } from './maintenance.js';
import { runDrill, type DrillRequest } from './drills.js';

/** The request each job kind takes. */
export interface JobRequests {
  backup: SnapshotRequest;
  restore: RestoreRequest;
  'restore-dry-run': RestoreRequest;
  copy: CopyRequest;
  download: DownloadRequest;
  upload: UploadRequest;
  check: MaintenanceRequest;
  prune: MaintenanceRequest;
  drill: DrillRequest;
}

/**
 * The one table of job kinds: which operation each runs. The server submits
 * through it; nothing else decides what a job does.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const jobOperations: { [K in JobKind]: JobOperation<JobRequests[K], any, any> } = {
  backup: createSnapshot,
  restore: restoreSnapshot,
  'restore-dry-run': restoreSnapshot,
  copy: copySnapshotsOp,
  download: downloadArchive,
  upload: uploadArchiveOp,
  check: maintenance,
  prune: maintenance,
  drill: runDrill,
};
