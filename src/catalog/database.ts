import { closeSync, openSync } from 'node:fs';
import Database from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect, type Generated, type Migration, type MigrationProvider } from 'kysely';
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

export interface CatalogSchema {
  destinations: DestinationsTable;
  applications: ApplicationsTable;
  snapshot_cache: SnapshotCacheTable;
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
};

/** A consistent copy of the catalog's database file (SQLite's own serialization, inside a read transaction). */
export function catalogImage(file: string): Buffer {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return db.serialize();
  } finally {
    db.close();
  }
}

const provider: MigrationProvider = { getMigrations: async () => migrations };

export async function openCatalog(file: string): Promise<Catalog> {
  let sqlite: Database.Database;
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
