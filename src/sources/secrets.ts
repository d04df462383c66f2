import { closeSync, constants as fsc, fstatSync, openSync, readSync, realpathSync } from 'node:fs';
import { isAbsolute, normalize, resolve, sep } from 'node:path';
import { z } from 'zod';
import { AppError, isOwnCredentialVar, registerSecret } from '../kernel/index.js';

/** The largest secret file read (a password, a key): anything bigger is not a secret file. */
const MAX_SECRET_FILE = 64 * 1024;

const secretEnvName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, 'an environment variable name: letters, digits and "_"')
  .refine((n) => !isOwnCredentialVar(n), { message: "Strongbox's own variables and its object stores' credentials cannot be a component's password (they would be sent to the component's server)" });

const secretFilePath = z
  .string()
  .min(1)
  .refine((f) => isAbsolute(f) && normalize(f) === f && !f.split('/').includes('..'), { message: 'an absolute, normalized path to the file that holds the secret' })
  .refine((f) => !['/proc', '/sys', '/dev'].some((d) => f === d || f.startsWith(d + '/')), { message: 'a regular file, not one under /proc, /sys or /dev' });

export const secretRefSchema = z
  .union([z.strictObject({ env: secretEnvName }), z.strictObject({ file: secretFilePath })])
  .describe('Where a secret comes from: { env: VAR } or { file: PATH }; it is never stored.');
export type SecretRef = z.infer<typeof secretRefSchema>;

/**
 * Where secret files may not be: this instance's home (its key, its catalog).
 * Checked on the file's real path, so a link cannot lead there either.
 */
function forbiddenSecretFile(real: string): string | undefined {
  const home = process.env.STRONGBOX_HOME;
  const homes = [home ? resolve(home) : undefined].filter((x): x is string => !!x);
  for (const h of homes) {
    let realHome = h;
    try {
      realHome = realpathSync(h);
    } catch {
      /* not there yet */
    }
    if (real === realHome || real.startsWith(realHome + sep)) return "it is inside Strongbox's own home";
  }
  if (['/proc', '/sys', '/dev'].some((d) => real === d || real.startsWith(d + '/'))) return 'it is not a regular file';
  return undefined;
}

/** Reads a secret file: a regular file of at most 64 KiB, not inside Strongbox's home. */
function readSecretFile(file: string): string {
  const real = realpathSync(file);
  const why = forbiddenSecretFile(real);
  if (why) throw new Error(`refused: ${why}`);
  const fd = openSync(real, fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK);
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new Error('refused: it is not a regular file');
    if (st.size > MAX_SECRET_FILE) throw new Error(`refused: it has ${st.size} bytes, more than a secret file may (${MAX_SECRET_FILE})`);
    const buf = Buffer.alloc(st.size);
    let got = 0;
    while (got < buf.length) {
      const n = readSync(fd, buf, got, buf.length - got, got);
      if (n === 0) break;
      got += n;
    }
    return buf.subarray(0, got).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/** Reads a referenced secret; the error names the reference, never a value. */
export function resolveSecret(ref: SecretRef | undefined, what: string): string | undefined {
  if (!ref) return undefined;
  if ('env' in ref) {
    const v = process.env[ref.env];
    registerSecret(v);
    if (v === undefined) throw new AppError('INVALID_ARGUMENT', `The ${what} comes from the environment variable ${ref.env}, which is not set. Export it, or change passwordFrom in the spec.`);
    return v;
  }
  try {
    const v = readSecretFile(ref.file).replace(/\r?\n$/, '');
    registerSecret(v);
    return v;
  } catch (err) {
    throw new AppError('INVALID_ARGUMENT', `The ${what} comes from ${ref.file}, which cannot be read: ${(err as Error).message}.`, { cause: err });
  }
}

/**
 * Reads every secret a component's options refer to, so that it is known (and
 * masked) before any hook runs; a missing one is reported later, by the component.
 */
export function preloadSecrets(options: Record<string, unknown>): void {
  const ref = options.passwordFrom as SecretRef | undefined;
  try {
    resolveSecret(ref, 'password');
  } catch {
    /* the component reports it when it runs */
  }
}

/** A URL schema for the given schemes that refuses embedded passwords (they would end up in the catalog). */
export function urlSchema(schemes: string[], example: string) {
  return z
    .string()
    .superRefine((v, ctx) => {
      let u: URL;
      try {
        u = new URL(v);
      } catch {
        ctx.addIssue({ code: 'custom', message: `not a URL; expected something like ${example}` });
        return;
      }
      if (!schemes.includes(u.protocol.replace(/:$/, ''))) ctx.addIssue({ code: 'custom', message: `the URL must start with ${schemes.map((s) => s + '://').join(' or ')} (like ${example})` });
      if (u.password) ctx.addIssue({ code: 'custom', message: 'do not put a password in the URL: it would be stored in the catalog; use passwordFrom: { env: VAR } or { file: PATH }' });
    })
    .describe(`A URL like ${example}; credentials go in passwordFrom, never in the URL.`);
}

/** A URL for display and logs: never with a password. */
export function safeUrl(v: string): string {
  try {
    const u = new URL(v);
    u.password = '';
    return u.toString();
  } catch {
    return '(invalid URL)';
  }
}
