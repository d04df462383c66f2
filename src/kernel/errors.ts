/**
 * One closed table of error codes. Every edge (CLI exit codes, HTTP statuses)
 * maps from this table once; a new code without a mapping does not compile.
 */
export const errorTable = {
  INTERNAL: { exit: 1, http: 500 },
  USAGE: { exit: 2, http: 400 },
  INVALID_ARGUMENT: { exit: 2, http: 400 },
  AMBIGUOUS_ID: { exit: 2, http: 400 },
  NOT_FOUND: { exit: 1, http: 404 },
  REPO_NOT_FOUND: { exit: 10, http: 404 },
  REPO_EXISTS: { exit: 1, http: 409 },
  REPO_LOCKED: { exit: 11, http: 423 },
  WRONG_PASSWORD: { exit: 12, http: 401 },
  PASSWORD_REQUIRED: { exit: 12, http: 401 },
  CORRUPT: { exit: 1, http: 422 },
  CHECK_FAILED: { exit: 1, http: 422 },
  RESTORE_INCOMPLETE: { exit: 1, http: 500 },
  STORAGE_FULL: { exit: 1, http: 507 },
  STORAGE_UNAVAILABLE: { exit: 1, http: 503 },
  PERMISSION_DENIED: { exit: 1, http: 403 },
  CONFLICT: { exit: 1, http: 409 },
  /** A restore's preflight found targets that are not clean or cannot work; nothing was changed. */
  PREFLIGHT_FAILED: { exit: 4, http: 409 },
  /** The snapshot needs a newer Strongbox (format or version). */
  UNSUPPORTED_VERSION: { exit: 1, http: 422 },
  CANCELLED: { exit: 130, http: 499 },
  /** No valid session or token: sign in, or give --token / STRONGBOX_TOKEN. */
  UNAUTHENTICATED: { exit: 13, http: 401 },
  /** Signed in, but the role does not allow it. */
  FORBIDDEN: { exit: 13, http: 403 },
  /** Too many failed sign-ins from one address; try again later. */
  RATE_LIMITED: { exit: 14, http: 429 },
  /** The application's vendor requires a license that is not installed, has expired or lacks the entitlement. */
  LICENSE_REQUIRED: { exit: 15, http: 402 },
  /** A request body or upload over its size limit. */
  TOO_LARGE: { exit: 2, http: 413 },
  /** The Strongbox server (remote mode) cannot be reached. */
  SERVER_UNAVAILABLE: { exit: 16, http: 503 },
} as const satisfies Record<string, { exit: number; http: number }>;

export type ErrorCode = keyof typeof errorTable;

/** Exit code for a snapshot that was written but misses some unreadable files. */
export const EXIT_PARTIAL = 3;

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.details = options.details;
  }
}

/** Unknown throws become INTERNAL, keeping the cause. */
export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  if (isAbortError(err)) return new AppError('CANCELLED', 'Cancelled.', { cause: err });
  const message = err instanceof Error ? err.message : String(err);
  return new AppError('INTERNAL', message, { cause: err });
}

export function isAbortError(err: unknown): boolean {
  return err instanceof Error && (err.name === 'AbortError' || (err as NodeJS.ErrnoException).code === 'ABORT_ERR');
}

export function errnoCode(err: unknown): string | undefined {
  return err instanceof Error ? (err as NodeJS.ErrnoException).code : undefined;
}
