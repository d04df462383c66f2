import { AppError } from './errors.js';

/** Throws CANCELLED when the signal has fired; call it at loop heads of long operations. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AppError('CANCELLED', 'Cancelled.');
}
