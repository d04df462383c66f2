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
}

export interface CatalogSchema {
  destinations: DestinationsTable;
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
};

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
