/**
 * Secrets this process knows (repository passwords, database passwords read
 * through passwordFrom), so that output it did not write itself — a hook's or a
 * tool's stdout and stderr, kept in snapshot logs — never carries them. Every
 * child process also starts without Strongbox's own password variables.
 */
const known = new Set<string>();

/** Remembers a secret for masking; very short values are not masked (they would garble text). */
export function registerSecret(value: string | undefined): void {
  if (value !== undefined && value.length >= 4) known.add(value);
}

/** Replaces every known secret in `text` with ***. */
export function redactSecrets(text: string): string {
  let out = text;
  for (const s of known) if (out.includes(s)) out = out.split(s).join('***');
  return out;
}

const OWN = ['STRONGBOX_PASSWORD', 'STRONGBOX_NEW_PASSWORD', 'STRONGBOX_PASSWORD_FILE', 'STRONGBOX_TOKEN'];

/** The environment for a child process: ours, without Strongbox's own secrets. */
export function childEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of OWN) delete env[k];
  return { ...env, ...extra };
}
