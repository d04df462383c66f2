import { AppError, registerSecret } from '../kernel/index.js';
import type { Destination, PasswordRef, StoredCredentials } from '../catalog/index.js';
import type { Repository } from '../repo/index.js';
import { audit, needInstance, type Caller, type Env } from './context.js';
import type { BackendCredentials } from '../app/index.js';
import type { Instance } from '../app/index.js';
import { describePasswordRef } from '../app/index.js';
import { initRepository, openRepository } from '../app/index.js';

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
  // "Create a repository there" on a location that holds one already connects it instead (the first
  // step of every recovery): it is validated with the password given, never initialised over.
  let connected = false;
  if (r.init) {
    try {
      await (await initRepository(r.location, r.password, { credentials })).close();
    } catch (err) {
      if (!(err instanceof AppError && err.code === 'REPO_EXISTS')) throw err;
      connected = true;
    }
  }
  const validation = r.skipValidation && !connected ? undefined : await validateDestination(r.location, r.password, credentials);
  if (connected && validation) validation.steps.unshift('found an existing repository there (connected, not re-initialised)');
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

/** A destination as every surface shows it: where, and how its secrets are kept — never the secrets. */
export interface DestinationView {
  name: string;
  kind: string;
  location: string;
  password: string;
  isDefault: boolean;
  createdAt: string;
  credentials: string;
}

export function viewDestination(d: Destination): DestinationView {
  return { name: d.name, kind: d.kind, location: d.location, password: describePasswordRef(d.password), isDefault: d.isDefault, createdAt: d.createdAt, credentials: describeCredentials(d.credentials) };
}

export async function listDestinations(env: Env): Promise<DestinationView[]> {
  return (await needInstance(env).destinations.list()).map(viewDestination);
}

export async function showDestination(env: Env, name: string): Promise<DestinationView> {
  return viewDestination(await needInstance(env).destinations.get(name));
}

/** How a new destination's repository password is kept: sealed in the catalog, or read from a variable or file of this machine when needed. */
export type PasswordSource = { sealed: string } | { env: string } | { file: string };

export interface NewDestination {
  name: string;
  location: string;
  password: PasswordSource;
  init?: boolean | undefined;
  makeDefault?: boolean | undefined;
  skipValidation?: boolean | undefined;
  store?: StoreSecret | undefined;
}

/** Adds a destination (audited, a failure too, with its reason): the one home of "destination add". */
export async function addDestinationAs(env: Env, r: NewDestination, caller: Caller): Promise<DestinationView & { validation: Validation | null }> {
  const inst = needInstance(env);
  try {
    const src = r.password;
    const passwordRef: PasswordRef = 'sealed' in src ? inst.sealSecret(src.sealed) : 'env' in src ? { type: 'env', name: src.env } : { type: 'file', path: src.file };
    const password = 'sealed' in src ? src.sealed : inst.resolvePassword(passwordRef);
    const { added, validation } = await addDestination(inst, { name: r.name, location: r.location, passwordRef, password, init: !!r.init, makeDefault: !!r.makeDefault, skipValidation: !!r.skipValidation, ...(r.store ? { store: r.store } : {}) });
    await audit(env, caller, 'destination.add', r.name, 'ok', { location: r.location, init: !!r.init });
    return { ...viewDestination(added), validation: validation ?? null };
  } catch (err) {
    await audit(env, caller, 'destination.add', r.name, 'failed', { location: r.location, message: (err as Error).message });
    throw err;
  }
}

export async function updateDestinationAs(env: Env, name: string, r: { password?: string | undefined; store?: StoreSecret | undefined }, caller: Caller): Promise<DestinationView & { validation: Validation }> {
  try {
    const { updated, validation } = await updateDestinationSecrets(needInstance(env), name, { ...(r.password ? { password: r.password } : {}), ...(r.store ? { store: r.store } : {}) });
    await audit(env, caller, 'destination.update', name, 'ok', { password: !!r.password, store: !!r.store?.secret });
    return { ...viewDestination(updated), validation };
  } catch (err) {
    await audit(env, caller, 'destination.update', name, 'failed', { message: (err as Error).message });
    throw err;
  }
}

export async function validateNamedDestination(env: Env, name: string): Promise<Validation & { name: string }> {
  const inst = needInstance(env);
  const d = await inst.destinations.get(name);
  return { name: d.name, ...(await validateDestination(d.location, inst.resolvePassword(d.password), inst.resolveCredentials(d))) };
}

export async function setDefaultDestination(env: Env, name: string, caller: Caller): Promise<{ default: string }> {
  await needInstance(env).destinations.setDefault(name);
  await audit(env, caller, 'destination.default', name, 'ok');
  return { default: name };
}

export async function removeDestination(env: Env, name: string, caller: Caller): Promise<{ removed: string }> {
  await needInstance(env).destinations.remove(name);
  await audit(env, caller, 'destination.remove', name, 'ok');
  return { removed: name };
}
