import { AppError } from '../kernel/index.js';
import type { Backend } from '../storage/index.js';
import { LocalBackend } from '../storage/local/local-backend.js';

/**
 * The composition root for storage: the one place that turns a location string
 * into a concrete Backend. Local paths (and file:// URLs) today; s3:, azure:,
 * sftp: register here as they arrive.
 */
export function backendFor(location: string): Backend {
  if (location.length === 0) throw new AppError('USAGE', 'No repository given: use --repo LOCATION or set STRONGBOX_REPO.');
  if (location.startsWith('file://')) return new LocalBackend(decodeURIComponent(location.slice('file://'.length)));
  const scheme = /^([a-z][a-z0-9+.-]*):(?!\\)/i.exec(location)?.[1];
  if (scheme && scheme.length > 1) {
    throw new AppError('INVALID_ARGUMENT', `Unsupported repository location scheme "${scheme}:". This version supports local directories (a path or file://PATH).`);
  }
  return new LocalBackend(location);
}
