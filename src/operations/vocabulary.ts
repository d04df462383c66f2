/**
 * The types and small pure helpers the front ends speak in (results, records,
 * parsing of durations and specs), re-exported here so that the CLI needs no
 * layer below the operations.
 */
export type { DrillRecord, AppRestoreResult, TargetMapping, RetentionPolicy, ForgetResult, CheckResult, PruneResult, RepoStats, RebuildResult, Entry, DiffResult, BackupResult, RestoreResult } from '../engine/index.js';
export { parseDuration } from '../engine/index.js';
export type { Snapshot, SnapshotRef, SnapshotFilter } from '../tree/index.js';
export type { KeyListing } from '../repo/index.js';
export { formatProblems, type SpecProblem } from '../spec/common.js';
export { fingerprint, generateVendorKeys, parseLicense, signLicense } from '../spec/license.js';
export type { ApplicationSpec } from '../spec/index.js';
export { checkTimezone, describeCron, nextRuns, resolveCron, type Schedule } from '../jobs/index.js';
export { ROLES, type Role, type User, type TokenInfo, type AuditEntry } from '../catalog/index.js';
export type { JobRecord } from '../jobs/index.js';
