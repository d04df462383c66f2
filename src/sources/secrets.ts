import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { AppError, registerSecret } from '../kernel/index.js';

export const secretRefSchema = z
  .union([z.strictObject({ env: z.string().min(1) }), z.strictObject({ file: z.string().min(1) })])
  .describe('Where a secret comes from: { env: VAR } or { file: PATH }; it is never stored.');
export type SecretRef = z.infer<typeof secretRefSchema>;

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
    const v = readFileSync(ref.file, 'utf8').replace(/\r?\n$/, '');
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
