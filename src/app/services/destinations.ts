import { AppError, registerSecret } from '../../kernel/index.js';
import type { Destination, PasswordRef, StoredCredentials } from '../../catalog/index.js';
import type { Repository } from '../../repo/index.js';
import type { BackendCredentials } from '../backends.js';
import type { Instance } from '../instance.js';
import { describePasswordRef } from '../instance.js';
import { initRepository, openRepository } from '../open.js';

/** A store secret as given (already read from its env var, file or request body). */
export interface StoreSecret {
  accessKeyId?: string | undefined;
  secret?: string | undefined;
  /** Azure: the secret is a SAS token. */
  sas?: boolean | undefined;
  /** SFTP: the secret is a private key. */
  sshKey?: boolean | undefined;
}

/** Seals a store secret for the catalog; the catalog never holds it in plain text. */
export function storeCredentials(kind: Destination['kind'], o: StoreSecret, sealSecret: (plain: string) => PasswordRef): StoredCredentials | undefined {
  if (o.secret === undefined || o.secret === '') {
    if (o.accessKeyId) throw new AppError('USAGE', 'An access key id needs its secret (--secret-from-env VAR or --secret-from-file FILE).');
    return undefined;
  }
  registerSecret(o.secret);
  const kinds: Record<string, StoredCredentials['secretKind']> = {
    s3: 's3-secret-access-key',
    azure: o.sas ? 'azure-sas' : 'azure-account-key',
    sftp: o.sshKey ? 'sftp-private-key' : 'sftp-password',
  };
  const secretKind = kinds[kind];
  if (!secretKind) throw new AppError('USAGE', 'A local destination has no store credentials; drop the store secret.');
  if (kind === 's3' && !o.accessKeyId) throw new AppError('USAGE', 'An S3 secret needs its access key id.');
  return { ...(o.accessKeyId ? { user: o.accessKeyId } : {}), secret: sealSecret(o.secret), secretKind };
}

export function describeCredentials(c: StoredCredentials | undefined): string {
  if (!c?.secret) return 'from the environment';
  return `${c.secretKind}${c.user ? ` for ${c.user}` : ''}, ${describePasswordRef(c.secret)}`;
}

export interface Validation {
  repositoryId: string;
  snapshots: number;
  steps: string[];
}

/**
 * Proves a destination works end to end: the repository opens with the password,
 * and a lock object can be written, read back (listed and decrypted) and deleted.
 */
export async function validateDestination(location: string, password: string, credentials: BackendCredentials = {}): Promise<Validation> {
  const steps: string[] = [];
  // Each step says what it proves; a failure names the step and keeps the error's code (exit status).
  const step = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    try {
      const r = await fn();
      steps.push(name);
      return r;
    } catch (err) {
      const e = err instanceof AppError ? err : new AppError('STORAGE_UNAVAILABLE', String(err), { cause: err });
      throw new AppError(e.code, `Validation of ${location} failed at "${name}"${steps.length ? ` (after: ${steps.join(', ')})` : ''}: ${e.message}`, { cause: err, details: { step: name, passed: [...steps] } });
    }
  };
  const repo: Repository = await step('opened the repository with the password', () => openRepository(location, password, { loadIndex: false, credentials }));
  try {
    const lock = await step('wrote a test object (a lock)', () => repo.lock(false));
    const locks = await step('listed it', () => repo.listLocks());
    await step('read it back', async () => {
      if (!locks.some((l) => l.id === lock.id)) throw new AppError('STORAGE_UNAVAILABLE', 'the test object just written is not there (the store is not read-after-write consistent)');
    });
    await step('deleted it', () => lock.release());
    return { repositoryId: repo.config.id, snapshots: (await repo.listNames('snapshots')).length, steps };
  } finally {
    await repo.close();
  }
}

export interface AddDestinationRequest {
  name: string;
  /** An absolute path or a store URL. */
  location: string;
  passwordRef: PasswordRef;
  password: string;
  init?: boolean | undefined;
  makeDefault?: boolean | undefined;
  skipValidation?: boolean | undefined;
  store?: StoreSecret | undefined;
}

/** Adds a destination: refuses a duplicate before touching the location, creates the repository if asked, validates, then records it. */
export async function addDestination(inst: Instance, r: AddDestinationRequest): Promise<{ added: Destination; validation: Validation | undefined }> {
  if ((await inst.destinations.list()).some((d) => d.name === r.name)) {
    throw new AppError('CONFLICT', `A destination named "${r.name}" already exists; remove it first or choose another name.`);
  }
  const remote = /^(s3|azure|sftp):\/\//.test(r.location);
  if (!remote && !r.location.startsWith('/')) throw new AppError('INVALID_ARGUMENT', `"${r.location}" is neither an absolute path nor a store URL (s3://, azure://, sftp://).`);
  const kind = remote ? (r.location.split(':')[0] as 's3' | 'azure' | 'sftp') : 'local';
  const stored = storeCredentials(kind, r.store ?? {}, (plain) => inst.sealSecret(plain));
  const probe = { ...(stored ? { credentials: stored } : {}) };
  const credentials = inst.resolveCredentials({ name: r.name, kind, location: r.location, password: r.passwordRef, isDefault: false, createdAt: '', ...probe });
  if (r.init) await (await initRepository(r.location, r.password, { credentials })).close();
  const validation = r.skipValidation ? undefined : await validateDestination(r.location, r.password, credentials);
  const added = await inst.destinations.add({ name: r.name, kind, location: r.location, password: r.passwordRef, isDefault: !!r.makeDefault, ...probe });
  return { added, validation };
}

/**
 * Changes a destination's stored secrets (a new repository password after "repo key passwd",
 * or new store credentials): validated with the new values first; nothing changes if that fails.
 */
export async function updateDestinationSecrets(inst: Instance, name: string, r: { password?: string; store?: StoreSecret }): Promise<{ updated: Destination; validation: Validation }> {
  const d = await inst.destinations.get(name);
  const passwordRef = r.password ? inst.sealSecret(r.password) : d.password;
  const stored = r.store?.secret ? storeCredentials(d.kind, r.store, (plain) => inst.sealSecret(plain)) : d.credentials;
  const candidate = { ...d, password: passwordRef, ...(stored ? { credentials: stored } : {}) };
  const validation = await validateDestination(d.location, inst.resolvePassword(passwordRef), inst.resolveCredentials(candidate));
  const updated = await inst.destinations.updateSecrets(name, { password: passwordRef, ...(stored ? { credentials: stored } : {}) });
  return { updated, validation };
}
