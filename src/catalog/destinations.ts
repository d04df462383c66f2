import { AppError, systemClock } from '../kernel/index.js';
import type { Catalog } from './database.js';

/**
 * Where a destination's repository password comes from. `sealed` holds it
 * encrypted under the instance key (base64); `env` and `file` only name where it is.
 */
export type PasswordRef = { type: 'sealed'; sealed: string } | { type: 'env'; name: string } | { type: 'file'; path: string };

/**
 * Credentials of the store a destination lives in. `user` is not secret (an S3
 * access key id); `secret` is sealed with the instance key or only referenced.
 */
export interface StoredCredentials {
  user?: string;
  secret?: PasswordRef;
  secretKind?: 's3-secret-access-key' | 'azure-account-key' | 'azure-sas' | 'sftp-password' | 'sftp-private-key';
}

export interface Destination {
  name: string;
  kind: 'local' | 's3' | 'azure' | 'sftp';
  location: string;
  password: PasswordRef;
  isDefault: boolean;
  createdAt: string;
  credentials?: StoredCredentials;
}

const NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;

export function checkDestinationName(name: string): void {
  if (!NAME.test(name)) {
    throw new AppError('INVALID_ARGUMENT', `"${name}" is not a valid destination name: use 1–63 lower-case letters, digits, ".", "_" or "-", starting with a letter or digit.`);
  }
}

function fromRow(r: { name: string; kind: string; location: string; password_ref: string; is_default: number; created_at: string; credentials: string }): Destination {
  const credentials = JSON.parse(r.credentials || '{}') as StoredCredentials;
  return {
    name: r.name,
    kind: r.kind as Destination['kind'],
    location: r.location,
    password: JSON.parse(r.password_ref) as PasswordRef,
    isDefault: r.is_default === 1,
    createdAt: r.created_at,
    ...(credentials.secret || credentials.user ? { credentials } : {}),
  };
}

/** The destinations part of the catalog. */
export class DestinationStore {
  constructor(private readonly db: Catalog) {}

  async list(): Promise<Destination[]> {
    return (await this.db.selectFrom('destinations').selectAll().orderBy('name').execute()).map(fromRow);
  }

  async get(name: string): Promise<Destination> {
    const row = await this.db.selectFrom('destinations').selectAll().where('name', '=', name).executeTakeFirst();
    if (!row) throw new AppError('NOT_FOUND', `No destination "${name}"; "strongbox destination list" shows them.`);
    return fromRow(row);
  }

  async getDefault(): Promise<Destination | undefined> {
    const row = await this.db.selectFrom('destinations').selectAll().where('is_default', '=', 1).executeTakeFirst();
    return row ? fromRow(row) : undefined;
  }

  async add(d: Omit<Destination, 'createdAt'>, now = systemClock.now()): Promise<Destination> {
    checkDestinationName(d.name);
    return this.db.transaction().execute(async (tx) => {
      const exists = await tx.selectFrom('destinations').select('name').where('name', '=', d.name).executeTakeFirst();
      if (exists) throw new AppError('CONFLICT', `A destination named "${d.name}" already exists; remove it first or choose another name.`);
      const first = !(await tx.selectFrom('destinations').select('name').executeTakeFirst());
      const isDefault = d.isDefault || first;
      if (isDefault) await tx.updateTable('destinations').set({ is_default: 0 }).execute();
      await tx
        .insertInto('destinations')
        .values({ name: d.name, kind: d.kind, location: d.location, password_ref: JSON.stringify(d.password), is_default: isDefault ? 1 : 0, created_at: now.toISOString(), credentials: JSON.stringify(d.credentials ?? {}) })
        .execute();
      return { ...d, isDefault, createdAt: now.toISOString() };
    });
  }

  async setDefault(name: string): Promise<void> {
    await this.get(name);
    await this.db.transaction().execute(async (tx) => {
      await tx.updateTable('destinations').set({ is_default: 0 }).execute();
      await tx.updateTable('destinations').set({ is_default: 1 }).where('name', '=', name).execute();
    });
  }

  /** Replaces how a destination's secrets are found (its location and name stay). */
  async updateSecrets(name: string, patch: { password?: PasswordRef; credentials?: StoredCredentials }): Promise<Destination> {
    await this.get(name);
    await this.db
      .updateTable('destinations')
      .set({ ...(patch.password ? { password_ref: JSON.stringify(patch.password) } : {}), ...(patch.credentials ? { credentials: JSON.stringify(patch.credentials) } : {}) })
      .where('name', '=', name)
      .execute();
    return this.get(name);
  }

  async remove(name: string): Promise<void> {
    await this.get(name);
    await this.db.deleteFrom('destinations').where('name', '=', name).execute();
  }
}
