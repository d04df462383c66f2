import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { homedir } from 'node:os';
import * as path from 'node:path';
import { AppError, registerSecret, syncDirSync, systemClock } from '../kernel/index.js';
import { AccountStore, ApplicationStore, AuditLog, CatalogJobStore, catalogImage, DrillStore, LicenseStore, openCatalog, DestinationStore, PinStore, ScheduleStore, SettingsStore, SnapshotCache, type AuditEntry, type Catalog, type Destination, type NewSchedule, type PasswordRef, type PortableAccounts, type StoredLicense } from '../catalog/index.js';
import type { BackendCredentials } from './backends.js';
import { openSealed, seal } from '../repo/index.js';
import { VERSION } from './version.js';

/**
 * The instance home (STRONGBOX_HOME, default $XDG_DATA_HOME/strongbox or
 * ~/.local/share/strongbox): the catalog and the instance key that seals the
 * secrets the catalog keeps. Both are private to the user (0700 / 0600).
 */
export function instanceHome(): string {
  const env = process.env.STRONGBOX_HOME;
  if (env) return path.resolve(env);
  return path.join(process.env.XDG_DATA_HOME || path.join(homedir(), '.local', 'share'), 'strongbox');
}

export interface Instance {
  home: string;
  catalog: Catalog;
  destinations: DestinationStore;
  applications: ApplicationStore;
  snapshots: SnapshotCache;
  accounts: AccountStore;
  jobs: CatalogJobStore;
  schedules: ScheduleStore;
  /** The catalog's copy of restore drill records (the repositories hold the originals). */
  drills: DrillStore;
  audit: AuditLog;
  settings: SettingsStore;
  pins: PinStore;
  licenses: LicenseStore;
  /** Scratch space for the rare component that needs it (private, emptied of our leftovers on open). */
  spoolDir: string;
  /** The instance's own state for a full snapshot: a portable export, the key, and the catalog file. */
  stateFiles(): Promise<{ name: string; data: Buffer }[]>;
  /** The instance key (to re-seal secrets of another instance's export). */
  key: Buffer;
  sealSecret(plain: string): PasswordRef;
  /** The store credentials a destination keeps, opened for use (undefined: the environment's). */
  resolveCredentials(d: Destination): BackendCredentials;
  resolvePassword(ref: PasswordRef): string;
  close(): Promise<void>;
}

function instanceKey(home: string): Buffer {
  const file = path.join(home, 'instance.key');
  try {
    const key = fs.readFileSync(file);
    if (key.length !== 32) throw new AppError('CORRUPT', `${file} is not an instance key (expected 32 bytes). Restore it from a backup of the instance home.`);
    return key;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  // Created atomically: a crash leaves either no key or the whole key.
  const tmp = `${file}.${process.pid}.tmp`;
  const key = randomBytes(32);
  const fd = fs.openSync(tmp, 'wx', 0o600);
  try {
    fs.writeSync(fd, key);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  try {
    fs.linkSync(tmp, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
  // The key's name is durable before anything is sealed with it.
  syncDirSync(home);
  return fs.readFileSync(file);
}

export async function openInstance(home = instanceHome()): Promise<Instance> {
  fs.mkdirSync(home, { recursive: true, mode: 0o700 });
  const key = instanceKey(home);
  const catalogFile = path.join(home, 'catalog.sqlite');
  const catalog = await openCatalog(catalogFile);
  const spoolDir = path.join(home, 'spool');
  fs.mkdirSync(spoolDir, { recursive: true, mode: 0o700 });
  const destinations = new DestinationStore(catalog);
  const applications = new ApplicationStore(catalog);
  return {
    home,
    catalog,
    destinations,
    applications,
    snapshots: new SnapshotCache(catalog),
    accounts: new AccountStore(catalog),
    jobs: new CatalogJobStore(catalog),
    schedules: new ScheduleStore(catalog),
    drills: new DrillStore(catalog),
    audit: new AuditLog(catalog),
    settings: new SettingsStore(catalog),
    pins: new PinStore(catalog),
    licenses: new LicenseStore(catalog),
    spoolDir,
    key,
    async stateFiles() {
      const settingsStore = new SettingsStore(catalog);
      const state: InstanceExport = {
        format: 2,
        exportedAt: systemClock.now().toISOString(),
        strongboxVersion: VERSION,
        applications: (await applications.list()).map((a) => ({ name: a.name, version: a.version, specText: a.specText })),
        destinations: (await destinations.list()).map((d) => ({ name: d.name, kind: d.kind, location: d.location, password: d.password, isDefault: d.isDefault, ...(d.credentials ? { credentials: d.credentials } : {}) })),
        schedules: (await new ScheduleStore(catalog).list()).map((x) => ({ name: x.name, kind: x.kind, app: x.app, destination: x.destination, cron: x.cron, timezone: x.timezone, paused: x.paused, retention: x.retention, tags: x.tags, ...(x.maintenance ? { maintenance: x.maintenance } : {}), ...(x.objective ? { objective: x.objective } : {}) })),
        settings: await settingsStore.all(),
        accounts: await new AccountStore(catalog).exportRows(),
        licenses: await new LicenseStore(catalog).list(),
        audit: (await new AuditLog(catalog).list({ limit: 100000 })).reverse().map(({ id: _id, ...e }) => e),
      };
      return [
        { name: 'instance.json', data: Buffer.from(JSON.stringify(state, null, 2)) },
        { name: 'instance.key', data: key },
        { name: 'catalog.sqlite', data: catalogImage(catalogFile) },
      ];
    },
    sealSecret: (plain) => ({ type: 'sealed', sealed: seal(key, Buffer.from(plain, 'utf8')).toString('base64') }),
    resolveCredentials(d) {
      const c = d.credentials;
      if (!c?.secret) return {};
      const secret = resolveRef(c.secret);
      registerSecret(secret);
      switch (c.secretKind) {
        case 's3-secret-access-key':
          return { s3: { accessKeyId: c.user ?? '', secretAccessKey: secret } };
        case 'azure-account-key':
          return { azure: { accountKey: secret } };
        case 'azure-sas':
          return { azure: { sasToken: secret } };
        case 'sftp-password':
          return { sftp: { password: secret } };
        case 'sftp-private-key':
          return { sftp: { privateKey: Buffer.from(secret, 'utf8') } };
        default:
          return {};
      }
    },
    resolvePassword(ref) {
      const pw = resolveRef(ref);
      registerSecret(pw);
      return pw;
    },
    close: () => catalog.destroy(),
  };

  function resolveRef(ref: PasswordRef): string {
    switch (ref.type) {
      case 'sealed':
        try {
          return openSealed(key, Buffer.from(ref.sealed, 'base64'), 'stored password').toString('utf8');
        } catch (err) {
          throw new AppError('CORRUPT', `A stored password does not open with this instance's key (${path.join(home, 'instance.key')}); was the key replaced? Add the destination again.`, { cause: err });
        }
      case 'env': {
        const v = process.env[ref.name];
        if (v === undefined || v === '') throw new AppError('PASSWORD_REQUIRED', `The destination's password comes from the environment variable ${ref.name}, which is not set.`);
        return v;
      }
      case 'file':
        try {
          return fs.readFileSync(ref.path, 'utf8').replace(/\r?\n$/, '');
        } catch (err) {
          throw new AppError('PASSWORD_REQUIRED', `The destination's password comes from ${ref.path}, which cannot be read: ${(err as Error).message}.`, { cause: err });
        }
    }
  }
}

/**
 * The portable part of a full snapshot's instance state (docs/FORMAT.md):
 * everything an operator configured. Sealed secrets stay sealed under the
 * exporting instance's key (carried beside it) and are sealed again on restore.
 * Format 1 (Strongbox 0.1) held applications and destinations only; it is still read.
 */
export interface InstanceExport {
  format: 1 | 2;
  exportedAt: string;
  /** The Strongbox that wrote it (format 2). */
  strongboxVersion?: string;
  applications: { name: string; version: string; specText: string }[];
  destinations: { name: string; kind: string; location: string; password: PasswordRef; isDefault: boolean; credentials?: Destination['credentials'] }[];
  schedules?: NewSchedule[];
  /** Notification and security settings, by key. */
  settings?: Record<string, unknown>;
  /** Users (password hashes) and API tokens (hashes). */
  accounts?: PortableAccounts;
  licenses?: StoredLicense[];
  /** The audit log, oldest first. */
  audit?: Omit<AuditEntry, 'id'>[];
}

export function describePasswordRef(ref: PasswordRef): string {
  return ref.type === 'sealed' ? 'stored (encrypted with the instance key)' : ref.type === 'env' ? `environment variable ${ref.name}` : `file ${ref.path}`;
}
