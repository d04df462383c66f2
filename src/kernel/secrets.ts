/**
 * Secrets this process knows (repository passwords, database passwords read
 * through passwordFrom, stored credentials, and every credential in its own
 * environment), so that output it did not write itself — a hook's or a tool's
 * stdout and stderr, kept in snapshot logs, job records and errors — never
 * carries them. Child processes start from an allow-listed environment, so a
 * hook cannot even read what Strongbox was started with (docs/SECURITY.md).
 */
const known = new Set<string>();

/** Remembers a secret for masking; very short values are not masked (they would garble text). */
export function registerSecret(value: string | undefined): void {
  if (value !== undefined && value.length >= 4) known.add(value);
}

/** Variables that hold credentials Strongbox itself uses (its own, and the object stores' SDKs'). */
const CREDENTIAL_VARS = [
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AZURE_STORAGE_KEY',
  'AZURE_STORAGE_CONNECTION_STRING',
  'AZURE_STORAGE_SAS_TOKEN',
  'AZURE_CLIENT_SECRET',
  'GOOGLE_APPLICATION_CREDENTIALS',
];
/** Names that look like a credential: their values are masked wherever they could appear. */
const CREDENTIAL_NAME = /(PASSWORD|PASSWD|SECRET|TOKEN|CREDENTIAL|PRIVATE_KEY|ACCESS_KEY|_KEY$|_PWD$|^PGPASSWORD$|^MYSQL_PWD$)/i;

/** True for a variable a spec must never name as a password source, and a child must never see: Strongbox's own and its stores' credentials. */
export function isOwnCredentialVar(name: string): boolean {
  return name.startsWith('STRONGBOX_') || CREDENTIAL_VARS.includes(name);
}

let envRegistered = false;
/** Registers the credentials in this process's own environment (once; cheap afterwards). */
export function registerEnvironmentSecrets(env: NodeJS.ProcessEnv = process.env): void {
  if (envRegistered && env === process.env) return;
  if (env === process.env) envRegistered = true;
  for (const [k, v] of Object.entries(env)) if (v !== undefined && (isOwnCredentialVar(k) || CREDENTIAL_NAME.test(k))) registerSecret(v);
}

/** Replaces every known secret in `text` with ***. */
export function redactSecrets(text: string): string {
  registerEnvironmentSecrets();
  let out = text;
  for (const s of known) if (out.includes(s)) out = out.split(s).join('***');
  return out;
}

/**
 * What a child process may inherit: where programs are, who and where it is,
 * its language and time zone, and a few connection settings of the database
 * clients that are not credentials. An admin can let more through by name with
 * STRONGBOX_CHILD_ENV (comma-separated); Strongbox's own and its stores'
 * credentials never pass, whatever that says.
 */
const ALLOWED = new Set([
  'PATH', 'HOME', 'USER', 'LOGNAME', 'SHELL', 'LANG', 'LANGUAGE', 'TZ', 'TMPDIR', 'TERM',
  'PGSSLMODE', 'PGSSLROOTCERT', 'PGSSLCERT', 'PGSSLKEY', 'PGCONNECT_TIMEOUT',
]);

function allowed(name: string): boolean {
  if (isOwnCredentialVar(name)) return false;
  if (ALLOWED.has(name) || name.startsWith('LC_')) return true;
  return (process.env.STRONGBOX_CHILD_ENV ?? '').split(',').map((s) => s.trim()).includes(name);
}

/**
 * The environment for a child process: the allow-listed part of ours, then
 * `extra` (the spec's `env`, the component's own credential, the phase).
 */
export function childEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  registerEnvironmentSecrets();
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && allowed(k)) env[k] = v;
  return { ...env, ...extra };
}
