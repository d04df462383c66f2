import type { Catalog } from './database.js';

/** Small named settings of the instance (notifications, maintenance), as JSON. */
export class SettingsStore {
  constructor(private readonly db: Catalog) {}

  async get<T>(key: string, fallback: T): Promise<T> {
    const r = await this.db.selectFrom('settings').select('value').where('key', '=', key).executeTakeFirst();
    return r ? (JSON.parse(r.value) as T) : fallback;
  }

  /** Every setting, by key. */
  async all(): Promise<Record<string, unknown>> {
    return Object.fromEntries((await this.db.selectFrom('settings').selectAll().execute()).map((r) => [r.key, JSON.parse(r.value) as unknown]));
  }

  async set(key: string, value: unknown): Promise<void> {
    const v = JSON.stringify(value);
    await this.db.insertInto('settings').values({ key, value: v }).onConflict((oc) => oc.column('key').doUpdateSet({ value: v })).execute();
  }
}

/**
 * Pins as earlier versions kept them, per repository, in this catalog. Pins now
 * live in the repository itself; these are moved there on first use (drain).
 */
export class PinStore {
  constructor(private readonly db: Catalog) {}

  async list(repository: string): Promise<Set<string>> {
    return new Set((await this.db.selectFrom('pins').select('snapshot_id').where('repository', '=', repository).execute()).map((r) => r.snapshot_id));
  }

  async pin(repository: string, id: string, by: string, now: Date): Promise<void> {
    await this.db.insertInto('pins').values({ repository, snapshot_id: id, pinned_by: by, pinned_at: now.toISOString() }).onConflict((oc) => oc.doNothing()).execute();
  }

  async unpin(repository: string, id: string): Promise<void> {
    await this.db.deleteFrom('pins').where('repository', '=', repository).where('snapshot_id', '=', id).execute();
  }

  /** The catalog's pins of a repository with who and when (for moving them into the repository). */
  async entries(repository: string): Promise<{ id: string; by: string; at: string }[]> {
    return (await this.db.selectFrom('pins').selectAll().where('repository', '=', repository).execute()).map((r) => ({ id: r.snapshot_id, by: r.pinned_by, at: r.pinned_at }));
  }
}

export interface StoredLicense {
  id: string;
  keyFingerprint: string;
  licensee: string;
  document: string;
  installedAt: string;
}

export class LicenseStore {
  constructor(private readonly db: Catalog) {}

  async list(): Promise<StoredLicense[]> {
    return (await this.db.selectFrom('licenses').selectAll().orderBy('installed_at').execute()).map((r) => ({ id: r.id, keyFingerprint: r.key_fingerprint, licensee: r.licensee, document: r.document, installedAt: r.installed_at }));
  }

  async put(l: StoredLicense): Promise<void> {
    await this.db
      .insertInto('licenses')
      .values({ id: l.id, key_fingerprint: l.keyFingerprint, licensee: l.licensee, document: l.document, installed_at: l.installedAt })
      .onConflict((oc) => oc.column('id').doUpdateSet({ document: l.document, installed_at: l.installedAt }))
      .execute();
  }

  async remove(id: string): Promise<boolean> {
    const r = await this.db.deleteFrom('licenses').where('id', '=', id).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }
}
