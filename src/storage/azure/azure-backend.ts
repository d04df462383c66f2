import { BlobServiceClient, StorageSharedKeyCredential, AnonymousCredential, type ContainerClient, RestError } from '@azure/storage-blob';
import { AppError } from '../../kernel/index.js';
import type { Backend, FileKind, Handle, ObjectInfo, RemoveOptions } from '../backend.js';
import { hasConfig, listConfig } from '../config-object.js';
import { exactRange } from '../exact-range.js';

/**
 * A repository in an Azure Blob Storage container.
 *
 * Location: `azure://ACCOUNT/CONTAINER[/PREFIX][?endpoint=URL]` (the endpoint
 * defaults to https://ACCOUNT.blob.core.windows.net; Azurite's is
 * http://127.0.0.1:10000/ACCOUNT). Credentials: the account key
 * (AZURE_STORAGE_KEY) or a SAS token (AZURE_STORAGE_SAS_TOKEN) from the
 * environment, or the destination's stored credentials.
 *
 * A block blob upload is atomic (the blob appears whole when its block list
 * is committed) and reads, writes and listings are strongly consistent, so
 * the Backend contract holds as it is. The SDK's retries are off: the
 * RetryingBackend wrapper owns that policy.
 */
export interface AzureLocation {
  account: string;
  container: string;
  prefix: string;
  endpoint: string;
}

export interface AzureCredentials {
  accountKey?: string;
  sasToken?: string;
}

export function parseAzureLocation(location: string): AzureLocation {
  let u: URL;
  try {
    u = new URL(location);
  } catch {
    throw new AppError('INVALID_ARGUMENT', `"${location}" is not an Azure location; write azure://ACCOUNT/CONTAINER/PREFIX`);
  }
  const parts = u.pathname.replace(/^\/+/, '').split('/').filter(Boolean);
  if (u.protocol !== 'azure:' || !u.hostname || parts.length === 0) throw new AppError('INVALID_ARGUMENT', `"${location}" is not an Azure location; write azure://ACCOUNT/CONTAINER/PREFIX`);
  for (const k of u.searchParams.keys()) if (k !== 'endpoint') throw new AppError('INVALID_ARGUMENT', `Unknown Azure location option "${k}"; known: endpoint.`);
  const prefix = parts.slice(1).join('/');
  return {
    account: u.hostname,
    container: parts[0]!,
    prefix: prefix ? `${prefix}/` : '',
    endpoint: u.searchParams.get('endpoint') ?? `https://${u.hostname}.blob.core.windows.net`,
  };
}

export function mapAzureError(err: unknown, what: string, loc: AzureLocation): AppError {
  if (err instanceof AppError) return err;
  const e = err as RestError & { code?: string; details?: { errorCode?: string } };
  const status = e.statusCode;
  const code = e.details?.errorCode ?? e.code ?? '';
  const where = `azure://${loc.account}/${loc.container}/${loc.prefix}`;
  const detail = [code, status ? `HTTP ${status}` : ''].filter(Boolean).join(', ');
  if (code === 'ContainerNotFound') return new AppError('REPO_NOT_FOUND', `The container "${loc.container}" does not exist in account ${loc.account} (${what}); create it first.`, { cause: err });
  if (status === 404 || code === 'BlobNotFound') return new AppError('NOT_FOUND', `${what}: no such blob in ${where}.`, { cause: err });
  if (status === 403 || status === 401 || /Authentication|Authorization/.test(code)) {
    return new AppError('PERMISSION_DENIED', `Azure refused ${what} in ${where}: ${detail}. Check the account key or SAS token (AZURE_STORAGE_KEY, AZURE_STORAGE_SAS_TOKEN, or the destination's) and its permissions.`, { cause: err });
  }
  return new AppError('STORAGE_UNAVAILABLE', `Azure request failed (${what} in ${where}): ${detail || (e.message ?? String(err))}.`, { cause: err });
}

export class AzureBackend implements Backend {
  readonly location: string;
  private readonly container: ContainerClient;

  constructor(
    private readonly loc: AzureLocation,
    credentials: AzureCredentials = {},
  ) {
    this.location = `azure://${loc.account}/${loc.container}/${loc.prefix}`;
    const key = credentials.accountKey ?? process.env.AZURE_STORAGE_KEY;
    const sas = credentials.sasToken ?? process.env.AZURE_STORAGE_SAS_TOKEN;
    const retryOptions = { maxTries: 1, tryTimeoutInMs: 120_000 };
    const service = key
      ? new BlobServiceClient(loc.endpoint, new StorageSharedKeyCredential(loc.account, key), { retryOptions })
      : new BlobServiceClient(`${loc.endpoint}${sas ? `?${sas.replace(/^\?/, '')}` : ''}`, new AnonymousCredential(), { retryOptions });
    this.container = service.getContainerClient(loc.container);
  }

  private name(h: Handle): string {
    if (h.kind === 'config') return `${this.loc.prefix}config`;
    if (!/^[0-9a-f]{8,64}$/.test(h.name)) throw new AppError('INVALID_ARGUMENT', `Invalid object name "${h.name}".`);
    return `${this.loc.prefix}${h.kind}/${h.name}`;
  }

  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw mapAzureError(err, what, this.loc);
    }
  }

  async put(h: Handle, data: Uint8Array | readonly Uint8Array[]): Promise<void> {
    const body = data instanceof Uint8Array ? Buffer.from(data.buffer, data.byteOffset, data.byteLength) : Buffer.concat(data as Uint8Array[]);
    const name = this.name(h);
    // uploadData stages blocks above its threshold and commits them at once: the blob appears whole or not at all.
    await this.call(`writing ${name}`, () => this.container.getBlockBlobClient(name).uploadData(body, { blockSize: 8 * 1024 * 1024, concurrency: 4 }));
  }

  async get(h: Handle, range?: { offset: number; length: number }): Promise<Buffer> {
    const name = this.name(h);
    if (range && range.length === 0) return Buffer.alloc(0);
    const short = () => new AppError('CORRUPT', `${name} is shorter than expected (wanted ${range!.length} bytes at offset ${range!.offset}).`);
    let data: Buffer;
    try {
      data = await this.call(`reading ${name}`, () => this.container.getBlobClient(name).downloadToBuffer(range?.offset ?? 0, range?.length));
    } catch (err) {
      // A range that starts past the end (416), or one that ends past it (the SDK reads fewer bytes than asked).
      const cause = (err as AppError).cause;
      if (range && ((cause instanceof RestError && cause.statusCode === 416) || /Stream drains before getting enough data/.test((cause as Error | undefined)?.message ?? ''))) throw short();
      throw err;
    }
    if (range && data.length !== range.length) throw short();
    return data;
  }

  async *getStream(h: Handle, range: { offset: number; length: number }): AsyncIterable<Buffer> {
    const name = this.name(h);
    if (range.length === 0) return;
    const what = `reading ${name}`;
    const short = (got: number) => new AppError('CORRUPT', `${name} is shorter than expected (wanted ${range.length} bytes at offset ${range.offset}, got ${got}).`);
    let body: (NodeJS.ReadableStream & { destroy?: () => void }) | undefined;
    try {
      body = (await this.call(what, () => this.container.getBlobClient(name).download(range.offset, range.length))).readableStreamBody;
    } catch (err) {
      const cause = (err as AppError).cause;
      if (cause instanceof RestError && cause.statusCode === 416) throw short(0);
      throw err;
    }
    if (!body) throw new AppError('STORAGE_UNAVAILABLE', `Azure sent no body (${what}).`);
    yield* exactRange(body as AsyncIterable<Buffer> & { destroy?: () => void }, range.length, (err) => mapAzureError(err, what, this.loc), short);
  }

  async stat(h: Handle): Promise<ObjectInfo> {
    const name = this.name(h);
    const p = await this.call(`looking up ${name}`, () => this.container.getBlobClient(name).getProperties());
    return { name: h.name, size: p.contentLength ?? 0 };
  }

  async *list(kind: FileKind): AsyncIterable<ObjectInfo> {
    if (kind === 'config') {
      yield* listConfig((h) => this.stat(h));
      return;
    }
    const prefix = `${this.loc.prefix}${kind}/`;
    const pages = this.container.listBlobsFlat({ prefix }).byPage({ maxPageSize: 1000 });
    for (;;) {
      const page = await this.call(`listing ${prefix}`, () => pages.next());
      if (page.done) return;
      for (const b of page.value.segment.blobItems) {
        const name = b.name.slice(prefix.length);
        if (/^[0-9a-f]{8,64}$/.test(name)) yield { name, size: b.properties.contentLength ?? 0 };
      }
    }
  }

  async remove(h: Handle, opts?: RemoveOptions): Promise<void> {
    const name = this.name(h);
    await this.call(`deleting ${name}`, () => this.container.getBlobClient(name).delete()).catch((err: unknown) => {
      if (!(opts?.missingOk && err instanceof AppError && err.code === 'NOT_FOUND')) throw err;
    });
  }

  isRepository(): Promise<boolean> {
    return hasConfig((h) => this.stat(h));
  }

  async create(): Promise<void> {
    const exists = await this.call(`checking the container ${this.loc.container}`, () => this.container.exists());
    if (!exists) throw new AppError('REPO_NOT_FOUND', `The container "${this.loc.container}" does not exist in account ${this.loc.account}; create it first.`);
    if (await this.isRepository()) throw new AppError('REPO_EXISTS', `A repository already exists at ${this.location}.`);
    const first = await this.call('listing the prefix', () => this.container.listBlobsFlat({ prefix: this.loc.prefix }).byPage({ maxPageSize: 1 }).next());
    const other = first.done ? undefined : first.value.segment.blobItems[0]?.name;
    if (other !== undefined) throw new AppError('CONFLICT', `${this.location} is not empty (it holds ${other}) and is not a Strongbox repository; choose an empty container or another prefix.`);
  }

  async close(): Promise<void> {}
}
