import type { ProgressSink } from '../kernel/index.js';
import type { AppVerification } from './verification.js';
import type { DrillRecord, AppRestoreResult, CopyResult, BackupResult, CheckResult, DiffResult, Entry, ForgetResult, PruneResult, RebuildResult, RepoStats, RestoreResult, RetentionPolicy, TargetMapping } from '../engine/index.js';
import type { KeyListing } from '../repo/index.js';
import type { JobRecord } from '../jobs/index.js';
import type { SnapshotFilter, SnapshotRef } from '../tree/index.js';
import type { ApplicationAdded, ApplicationDetail, ApplicationView, RemoveApplicationResult, SpecCheck } from './applications.js';
import type { DestinationView, StoreSecret, Validation } from './destinations.js';
import type { ListedSnapshot } from './snapshot-admin.js';
import type { InstalledLicense } from './licenses.js';
import type { AuditQueryOptions } from './accounts.js';
import type { AuditEntry, Role, TokenInfo, User } from '../catalog/index.js';
import type { LicenseBody } from '../spec/index.js';

/** How a front end follows a long operation: progress to a sink, Ctrl-C to a signal. */
export interface Ui {
  sink: ProgressSink;
  signal: AbortSignal;
}

export interface SnapshotCreate {
  apps?: string[] | undefined;
  full?: boolean | undefined;
  tags: string[];
  note?: string | undefined;
  host?: string | undefined;
}

export interface AppRestore {
  apps?: string[] | undefined;
  components?: string[] | undefined;
  maps: TargetMapping[];
  specs?: string[] | undefined;
  spaceCheck?: boolean | undefined;
  dryRun: boolean;
  force: boolean;
  repoint?: boolean | undefined;
}

/** What an upload did, the same locally and from a server's job. */
export interface UploadSummary {
  copied: { source: string; target: string }[];
  skipped: { source: string; target: string }[];
  inspected: { snapshots: number; files: number; dirs: number; expandedBytes: number };
  storedBytesSent: number;
}

/** What a copy did, the same locally and from a server's job. */
export type CopySummary = CopyResult;

/** Where a copy goes: a destination of the instance, or (this machine only) a repository with its own password. */
export type CopyTo = { destination: string } | { location: string; password: string };

export interface NewDestinationRequest {
  name: string;
  location: string;
  /** The repository's password, sealed where the destination is kept; or (this machine only) a variable or file to read it from. */
  password: { plain: string } | { env: string } | { file: string };
  init: boolean;
  makeDefault: boolean;
  skipValidation: boolean;
  store?: StoreSecret | undefined;
}

/**
 * Everything a front end asks of Strongbox, as one interface with two
 * implementations: in-process (this machine's instance and repositories:
 * operations/local.ts) and over HTTP (a server: api/client/operations.ts).
 * A command parses, calls one method and renders the answer, so the same
 * command prints the same thing and exits the same way either way. Methods
 * that read or write this machine's files refuse over HTTP with a USAGE error.
 */
export interface Operations {
  /** "this machine" or the server's URL, for messages. */
  readonly place: string;
  /** Whether the work happens on a server (long operations are its jobs). */
  readonly remote: boolean;

  /** Starts a snapshot and returns at once with its job (servers only: --detach). */
  submitSnapshot(req: SnapshotCreate): Promise<JobRecord>;
  createSnapshot(req: SnapshotCreate, ui: Ui): Promise<{ id: string; snapshot: SnapshotRef['snapshot'] }>;
  restoreSnapshot(id: string, req: AppRestore, ui: Ui): Promise<AppRestoreResult>;
  /** A restore drill (docs/DRILLS.md): the job's record, whether it passed or failed. */
  runDrill(req: { snapshot?: string | undefined; apps?: string[] | undefined; timeout?: string | undefined; spaceCheck?: boolean | undefined }, ui: Ui): Promise<DrillRecord>;
  listDrills(snapshot?: string): Promise<DrillRecord[]>;
  /** Per application: the newest verified snapshot, its recovery time, its age against the drill objective. */
  verificationStatus(): Promise<AppVerification[]>;
  /** Whether a snapshot is of paths, an application or a full one (a restore routes on it). */
  snapshotKind(id: string): Promise<{ id: string; kind: 'files' | 'application' | 'full' }>;
  listSnapshots(filter: SnapshotFilter): Promise<ListedSnapshot[]>;
  showSnapshot(id: string): Promise<ListedSnapshot>;
  snapshotLog(id: string): Promise<{ id: string; lines: string[] }>;
  deleteSnapshot(id: string): Promise<{ deleted: string }>;
  pinSnapshot(id: string, reason: string | undefined): Promise<{ id: string; pinned: true }>;
  unpinSnapshot(id: string, quiet: boolean): Promise<{ id: string; pinned: false }>;
  downloadSnapshot(id: string, file: string, password: string | undefined, ui: Ui): Promise<{ source: string; file: string; bytes: number }>;
  /** An archive's password: undefined takes the repository's own (this machine only). */
  uploadArchive(file: string, password: string | undefined, to: string | undefined, ui: Ui): Promise<UploadSummary>;
  copySnapshots(ids: string[] | 'all', to: CopyTo, ui: Ui): Promise<CopySummary>;
  forgetSnapshots(policy: RetentionPolicy, dryRun: boolean): Promise<ForgetResult>;

  backupPaths(req: { paths: string[]; excludes: string[]; tags: string[]; host?: string | undefined; parent?: string | undefined; force?: boolean | undefined; estimate: boolean }, ui: Ui): Promise<BackupResult>;
  restoreFiles(id: string, req: { target: string; includes: string[]; keepPrivileges: boolean; spaceCheck: boolean }, ui: Ui): Promise<RestoreResult & { snapshot: string; target: string }>;
  listFiles(id: string, path: string, each: (e: Entry) => void): Promise<void>;
  /** One file of a snapshot, every byte read back and checked, written to `out` (a dump, a manifest). */
  dumpFile(id: string, path: string, out: NodeJS.WritableStream): Promise<void>;
  diff(a: string, b: string): Promise<DiffResult>;

  listApplications(): Promise<ApplicationView[]>;
  showApplication(name: string): Promise<ApplicationDetail>;
  validateSpec(text: string): Promise<SpecCheck>;
  addApplication(text: string, replace: boolean, source?: string): Promise<ApplicationAdded>;
  removeApplication(name: string, withSchedules: boolean): Promise<RemoveApplicationResult>;

  listDestinations(): Promise<DestinationView[]>;
  showDestination(name: string): Promise<DestinationView>;
  addDestination(req: NewDestinationRequest): Promise<DestinationView & { validation: Validation | null }>;
  validateDestination(name: string): Promise<Validation & { name: string }>;
  setDefaultDestination(name: string): Promise<{ default: string }>;
  removeDestination(name: string): Promise<{ removed: string }>;

  checkRepository(o: { readData: boolean | number }, ui: Ui): Promise<CheckResult>;
  pruneRepository(o: { dryRun: boolean; maxUnused: number }, ui: Ui): Promise<PruneResult>;
  repositoryStats(): Promise<RepoStats>;
  unlockRepository(o: { removeAll: boolean }): Promise<{ removed: string[]; kept: string[] }>;
  rebuildIndex(ui: Ui): Promise<RebuildResult>;
  listKeys(): Promise<KeyListing[]>;
  addKey(password: string): Promise<{ id: string }>;
  removeKey(prefix: string): Promise<{ removed: string }>;
  changePassword(password: string): Promise<{ id: string; removed: string }>;

  listUsers(): Promise<User[]>;
  addUser(r: { name: string; role: Role; password: string; mustChangePassword: boolean }): Promise<User>;
  updateUser(name: string, r: { role?: Role; password?: string; mustChangePassword?: boolean; keepTokens?: boolean }): Promise<User>;
  removeUser(name: string): Promise<{ removed: string }>;
  listTokens(): Promise<TokenInfo[]>;
  /** A token for `user` (this machine: default admin; a server: always the caller). */
  createToken(r: { name: string; user: string; role?: Role | undefined; expiresInDays?: number | undefined }): Promise<TokenInfo & { token: string }>;
  revokeToken(idOrName: string): Promise<TokenInfo>;
  auditLog(q: AuditQueryOptions): Promise<AuditEntry[]>;

  listLicenses(): Promise<InstalledLicense[]>;
  installLicense(text: string): Promise<LicenseBody & { installed: string; keyFingerprint: string }>;
  removeLicense(id: string): Promise<{ removed: string }>;

  close(): Promise<void>;
}
