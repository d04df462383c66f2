import { AppError } from '../kernel/index.js';
import { LimitedBackend, RetryingBackend, type Backend } from '../storage/index.js';
import { LocalBackend } from '../storage/local/local-backend.js';
import type { S3Credentials } from '../storage/s3/s3-backend.js';
import type { AzureCredentials } from '../storage/azure/azure-backend.js';
import type { SftpCredentials } from '../storage/sftp/sftp-backend.js';

/** Where storage retries are reported (the CLI prints them; nothing by default). */
let storageLog: (line: string) => void = () => undefined;
export function setStorageLog(fn: (line: string) => void): void {
  storageLog = fn;
}

export interface BackendCredentials {
  s3?: S3Credentials;
  azure?: AzureCredentials;
  sftp?: SftpCredentials;
}

/** Network stores get the same stack: retry with backoff over a concurrency limit. */
function remote(store: Backend, concurrency = 16): Backend {
  return new RetryingBackend(new LimitedBackend(store, concurrency), {
    attempts: Number(process.env.STRONGBOX_STORAGE_ATTEMPTS ?? 8),
    onRetry: (what, attempt, delay, err) => storageLog(`storage: ${what} failed (${err.message}); retrying in ${(delay / 1000).toFixed(1)} s (attempt ${attempt + 1})`),
  });
}

/**
 * The composition root for storage: the one place that turns a location string
 * into a concrete Backend, with its wrappers stacked in one visible order:
 * retry (transient failures, with backoff) over a concurrency limit over the
 * store itself. Local directories need neither.
 */
export async function backendFor(location: string, credentials: BackendCredentials = {}): Promise<Backend> {
  if (location.length === 0) throw new AppError('USAGE', 'No repository given: use --repo LOCATION or set STRONGBOX_REPO.');
  if (location.startsWith('file://')) return new LocalBackend(decodeURIComponent(location.slice('file://'.length)));
  // Each store's SDK is loaded only when a location needs it: together they cost every command
  // half a second and 40 MiB at start-up (strongbox --version: 0.60 s, 105 MiB).
  if (location.startsWith('s3://')) {
    const { S3Backend, parseS3Location } = await import('../storage/s3/s3-backend.js');
    return remote(new S3Backend(parseS3Location(location), credentials.s3));
  }
  if (location.startsWith('azure://')) {
    const { AzureBackend, parseAzureLocation } = await import('../storage/azure/azure-backend.js');
    return remote(new AzureBackend(parseAzureLocation(location), credentials.azure));
  }
  if (location.startsWith('sftp://')) {
    const { SftpBackend, parseSftpLocation } = await import('../storage/sftp/sftp-backend.js');
    return remote(new SftpBackend(parseSftpLocation(location), credentials.sftp), 8);
  }
  const scheme = /^([a-z][a-z0-9+.-]*):(?!\\)/i.exec(location)?.[1];
  if (scheme && scheme.length > 1) {
    throw new AppError('INVALID_ARGUMENT', `Unsupported repository location scheme "${scheme}:". This version supports local directories (a path or file://PATH), S3 (s3://BUCKET/PREFIX?endpoint=…), Azure Blob Storage (azure://ACCOUNT/CONTAINER/PREFIX) and SFTP (sftp://USER@HOST:PORT/PATH).`);
  }
  return new LocalBackend(location);
}
