import { closeSync, openSync } from 'node:fs';
import { createRequire } from 'node:module';
import type BetterSqlite3 from 'better-sqlite3';
import type { Kysely, Generated, Migration, MigrationProvider } from 'kysely';
import { AppError } from '../kernel/index.js';

/**
 * The catalog: Strongbox's own database (embedded SQLite by default). It holds
 * destinations and, as issues land, applications, schedules, jobs and users. For
 * snapshots it is only ever a cache: the repository is the truth.
 */
export interface DestinationsTable {
  name: string;
  kind: string;
  location: string;
  /** How the repository password is found: JSON of a PasswordRef (never the plain password). */
  password_ref: string;
  is_default: number;
  created_at: string;
  /** Credentials for the store itself (S3 keys, an Azure key, an SSH key or password): JSON of StoredCredentials, secrets sealed or referenced. */
  credentials: Generated<string>;
}

export interface ApplicationsTable {
  name: string;
  version: string;
  /** The spec as the operator wrote it (YAML); secrets in it are references only. */
  spec_text: string;
  created_at: string;
  updated_at: string;
}

/** A cache of snapshot listings per repository: rebuilt from the repository whenever it differs. */
export interface SnapshotCacheTable {
  repository: string;
  id: string;
  time: string;
  type: string;
  status: string;
  apps: string;
  tags: string;
  bytes: number;
  /** The manifest without warnings (JSON). */
  manifest: string;
}

export interface UsersTable {
  name: string;
  role: string;
  /** scrypt$N$r$p$salt$hash (never the password). */
  password_hash: string;
  must_change_password: number;
  created_at: string;
  updated_at: string;
}

export interface SessionsTable {
  /** SHA-256 of the session secret (the cookie holds the secret). */
  id_hash: string;
  user_name: string;
  csrf: string;
  created_at: string;
  expires_at: string;
  ip: string;
}

export interface TokensTable {
  id: string;
  name: string;
  user_name: string;
  role: string;
  /** SHA-256 of the token's secret part. */
  secret_hash: string;
  created_at: string;
  expires_at: string | null;
  last_used_at: string | null;
  revoked_at: string | null;
}

export interface JobsTable {
  id: string;
  kind: string;
  app: string | null;
  destination: string | null;
  phase: string;
  params: string;
  progress: string;
  result: string | null;
  warnings: string;
  errors: string;
  requested_by: string;
  schedule_id: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
}

export interface JobLogsTable {
  job_id: string;
  seq: number;
  time: string;
  line: string;
}

export interface SchedulesTable {
  id: string;
  name: string;
  kind: string;
  app: string | null;
  destination: string | null;
  cron: string;
  timezone: string;
  paused: number;
  retention: string;
  tags: string;
  maintenance: string | null;
  created_at: string;
  updated_at: string;
  last_run_at: string | null;
  last_job_id: string | null;
  last_outcome: string | null;
  skipped: number;
  /** Drill schedules: how old the newest verified data may get (30d, 8d, 36h); null: twice the schedule's interval. */
  objective: string | null;
}

/** The catalog's copy of restore drill records (the repository keeps the sealed originals: docs/DRILLS.md). */
export interface DrillsTable {
  repository: string;
  id: string;
  snapshot: string;
  snapshot_time: string;
  /** Application names, comma-separated. */
  apps: string;
  status: string;
  started_at: string;
  finished_at: string;
  recovery_ms: number;
  /** The whole record (JSON). */
  record: string;
}

export interface AuditTable {
  id: Generated<number>;
  time: string;
  actor: string;
  action: string;
  target: string | null;
  ip: string | null;
  outcome: string;
  details: string | null;
}

export interface LicensesTable {
  id: string;
  /** SHA-256 fingerprint of the vendor's public key that signed it. */
  key_fingerprint: string;
  licensee: string;
  document: string;
  installed_at: string;
}

export interface SettingsTable {
  key: string;
  value: string;
}

export interface PinsTable {
  repository: string;
  snapshot_id: string;
  pinned_by: string;
  pinned_at: string;
}

export interface CatalogSchema {
  users: UsersTable;
  sessions: SessionsTable;
  tokens: TokensTable;
  jobs: JobsTable;
  job_logs: JobLogsTable;
  schedules: SchedulesTable;
  audit: AuditTable;
  licenses: LicensesTable;
  settings: SettingsTable;
  pins: PinsTable;
  destinations: DestinationsTable;
  applications: ApplicationsTable;
  snapshot_cache: SnapshotCacheTable;
  drills: DrillsTable;
  catalog_meta: { key: string; value: string; id?: Generated<number> };
}

export type Catalog = Kysely<CatalogSchema>;

/** Migrations are code, applied in name order, each once (Kysely's migrator keeps the record). */
const migrations: Record<string, Migration> = {
  '0001_destinations': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('destinations')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('location', 'text', (c) => c.notNull())
        .addColumn('password_ref', 'text', (c) => c.notNull())
        .addColumn('is_default', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createTable('catalog_meta').addColumn('key', 'text', (c) => c.primaryKey()).addColumn('value', 'text', (c) => c.notNull()).execute();
    },
  },
  '0002_applications': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('applications')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('version', 'text', (c) => c.notNull())
        .addColumn('spec_text', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
    },
  },
  '0004_destination_credentials': {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('destinations').addColumn('credentials', 'text', (c) => c.notNull().defaultTo('{}')).execute();
    },
  },
  '0005_server': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('users')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('role', 'text', (c) => c.notNull())
        .addColumn('password_hash', 'text', (c) => c.notNull())
        .addColumn('must_change_password', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('sessions')
        .addColumn('id_hash', 'text', (c) => c.primaryKey())
        .addColumn('user_name', 'text', (c) => c.notNull().references('users.name').onDelete('cascade'))
        .addColumn('csrf', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text', (c) => c.notNull())
        .addColumn('ip', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('tokens')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('user_name', 'text', (c) => c.notNull().references('users.name').onDelete('cascade'))
        .addColumn('role', 'text', (c) => c.notNull())
        .addColumn('secret_hash', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text')
        .addColumn('last_used_at', 'text')
        .addColumn('revoked_at', 'text')
        .execute();
      await db.schema
        .createTable('jobs')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('app', 'text')
        .addColumn('destination', 'text')
        .addColumn('phase', 'text', (c) => c.notNull())
        .addColumn('params', 'text', (c) => c.notNull())
        .addColumn('progress', 'text', (c) => c.notNull())
        .addColumn('result', 'text')
        .addColumn('warnings', 'text', (c) => c.notNull())
        .addColumn('errors', 'text', (c) => c.notNull())
        .addColumn('requested_by', 'text', (c) => c.notNull())
        .addColumn('schedule_id', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('started_at', 'text')
        .addColumn('finished_at', 'text')
        .execute();
      await db.schema.createIndex('jobs_created').on('jobs').column('created_at').execute();
      await db.schema
        .createTable('job_logs')
        .addColumn('job_id', 'text', (c) => c.notNull().references('jobs.id').onDelete('cascade'))
        .addColumn('seq', 'integer', (c) => c.notNull())
        .addColumn('time', 'text', (c) => c.notNull())
        .addColumn('line', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('job_logs_pk', ['job_id', 'seq'])
        .execute();
      await db.schema
        .createTable('schedules')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull().unique())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('app', 'text')
        .addColumn('destination', 'text')
        .addColumn('cron', 'text', (c) => c.notNull())
        .addColumn('timezone', 'text', (c) => c.notNull())
        .addColumn('paused', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('retention', 'text', (c) => c.notNull())
        .addColumn('tags', 'text', (c) => c.notNull())
        .addColumn('maintenance', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addColumn('last_run_at', 'text')
        .addColumn('last_job_id', 'text')
        .addColumn('last_outcome', 'text')
        .addColumn('skipped', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema
        .createTable('audit')
        .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
        .addColumn('time', 'text', (c) => c.notNull())
        .addColumn('actor', 'text', (c) => c.notNull())
        .addColumn('action', 'text', (c) => c.notNull())
        .addColumn('target', 'text')
        .addColumn('ip', 'text')
        .addColumn('outcome', 'text', (c) => c.notNull())
        .addColumn('details', 'text')
        .execute();
      await db.schema
        .createTable('licenses')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('key_fingerprint', 'text', (c) => c.notNull())
        .addColumn('licensee', 'text', (c) => c.notNull())
        .addColumn('document', 'text', (c) => c.notNull())
        .addColumn('installed_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createTable('settings').addColumn('key', 'text', (c) => c.primaryKey()).addColumn('value', 'text', (c) => c.notNull()).execute();
      await db.schema
        .createTable('pins')
        .addColumn('repository', 'text', (c) => c.notNull())
        .addColumn('snapshot_id', 'text', (c) => c.notNull())
        .addColumn('pinned_by', 'text', (c) => c.notNull())
        .addColumn('pinned_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('pins_pk', ['repository', 'snapshot_id'])
        .execute();
    },
  },
  '0003_snapshot_cache': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('snapshot_cache')
        .addColumn('repository', 'text', (c) => c.notNull())
        .addColumn('id', 'text', (c) => c.notNull())
        .addColumn('time', 'text', (c) => c.notNull())
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('apps', 'text', (c) => c.notNull())
        .addColumn('tags', 'text', (c) => c.notNull())
        .addColumn('bytes', 'integer', (c) => c.notNull())
        .addColumn('manifest', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('snapshot_cache_pk', ['repository', 'id'])
        .execute();
    },
  },
  '0006_drills': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('drills')
        .addColumn('repository', 'text', (c) => c.notNull())
        .addColumn('id', 'text', (c) => c.notNull())
        .addColumn('snapshot', 'text', (c) => c.notNull())
        .addColumn('snapshot_time', 'text', (c) => c.notNull())
        .addColumn('apps', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('started_at', 'text', (c) => c.notNull())
        .addColumn('finished_at', 'text', (c) => c.notNull())
        .addColumn('recovery_ms', 'integer', (c) => c.notNull())
        .addColumn('record', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('drills_pk', ['repository', 'id'])
        .execute();
      await db.schema.createIndex('drills_finished').on('drills').column('finished_at').execute();
      await db.schema.alterTable('schedules').addColumn('objective', 'text').execute();
    },
  },
};

/**
 * The database libraries are loaded by the first command that opens the catalog:
 * commands on a repository given by --repo never do, and kysely (288 modules) with
 * better-sqlite3 cost every such command ~20 MiB at start-up.
 */
const requireLazily = createRequire(import.meta.url);
function sqliteDatabase(): typeof BetterSqlite3 {
  return requireLazily('better-sqlite3') as typeof BetterSqlite3;
}

/** A consistent copy of the catalog's database file (SQLite's own serialization, inside a read transaction). */
export function catalogImage(file: string): Buffer {
  const Database = sqliteDatabase();
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return db.serialize();
  } finally {
    db.close();
  }
}

const provider: MigrationProvider = { getMigrations: async () => migrations };

export async function openCatalog(file: string): Promise<Catalog> {
  const Database = sqliteDatabase();
  const { Kysely, Migrator, SqliteDialect } = await import('kysely');
  let sqlite: BetterSqlite3.Database;
  try {
    // Private to the user from the first byte: the catalog keeps (sealed) secrets.
    closeSync(openSync(file, 'a', 0o600));
    sqlite = new Database(file);
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('synchronous = FULL');
    sqlite.pragma('foreign_keys = ON');
    sqlite.pragma('busy_timeout = 5000');
  } catch (err) {
    throw new AppError('INTERNAL', `Cannot open the catalog ${file}: ${(err as Error).message}`, { cause: err });
  }
  const db = new Kysely<CatalogSchema>({ dialect: new SqliteDialect({ database: sqlite }) });
  const { error, results } = await new Migrator({ db, provider }).migrateToLatest();
  if (error) {
    await db.destroy();
    const failed = results?.find((r) => r.status === 'Error')?.migrationName;
    throw new AppError('INTERNAL', `Catalog migration ${failed ?? ''} failed: ${(error as Error).message}`, { cause: error });
  }
  return db;
}
