import { readFileSync } from 'node:fs';
import { Agent as HttpsAgent } from 'node:https';
import { Agent as HttpAgent } from 'node:http';
import {
  S3Client,
  GetObjectCommand,
  PutObjectCommand,
  HeadObjectCommand,
  DeleteObjectCommand,
  ListObjectsV2Command,
  HeadBucketCommand,
  CreateMultipartUploadCommand,
  UploadPartCommand,
  CompleteMultipartUploadCommand,
  AbortMultipartUploadCommand,
  type ServerSideEncryption,
} from '@aws-sdk/client-s3';
import { AppError } from '../../kernel/index.js';
import type { Backend, FileKind, Handle, ObjectInfo, RemoveOptions } from '../backend.js';
import { hasConfig, listConfig } from '../config-object.js';
import { exactRange } from '../exact-range.js';

/**
 * A repository in an S3 bucket (AWS S3 or an S3-compatible store: MinIO,
 * Ceph RGW, Google Cloud Storage's interoperable endpoint).
 *
 * Location: `s3://BUCKET[/PREFIX][?endpoint=URL&region=R&path-style=true&sse=AES256|aws:kms&kms-key-id=ID&ca=FILE]`.
 * Layout under the prefix: config, keys/<id>, data/<id>, index/<id>, snapshots/<id>, locks/<id>.
 *
 * The contract holds on S3 as it is: a PUT is atomic (an object appears whole
 * or not at all) and, since 2020, strongly consistent for reads and lists. The
 * SDK's own retries are off: the RetryingBackend wrapper owns that policy, so
 * every request fails into one of the contract's error codes.
 */
export interface S3Location {
  bucket: string;
  prefix: string;
  endpoint?: string;
  region: string;
  pathStyle: boolean;
  sse?: ServerSideEncryption;
  kmsKeyId?: string;
  ca?: string;
}

export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

// The SDK warns that its releases after January 2027 will need Node 22; the version locked here runs on Node 20.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/** Objects larger than this go up in parts (S3 allows 5 GiB in one PUT; parts retry cheaper). */
const MULTIPART_OVER = 64 * 1024 * 1024;
const PART_SIZE = 16 * 1024 * 1024;

export function parseS3Location(location: string): S3Location {
  let u: URL;
  try {
    u = new URL(location);
  } catch {
    throw new AppError('INVALID_ARGUMENT', `"${location}" is not an S3 location; write s3://BUCKET/PREFIX?endpoint=https://…&region=…`);
  }
  if (u.protocol !== 's3:' || !u.hostname) throw new AppError('INVALID_ARGUMENT', `"${location}" is not an S3 location; write s3://BUCKET/PREFIX`);
  if (u.username || u.password) throw new AppError('INVALID_ARGUMENT', 'Do not put credentials in an S3 location: use the AWS environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_PROFILE) or the destination\'s stored credentials.');
  const q = u.searchParams;
  const known = new Set(['endpoint', 'region', 'path-style', 'sse', 'kms-key-id', 'ca']);
  for (const k of q.keys()) if (!known.has(k)) throw new AppError('INVALID_ARGUMENT', `Unknown S3 location option "${k}"; known: ${[...known].join(', ')}.`);
  const sse = q.get('sse') ?? undefined;
  if (sse !== undefined && sse !== 'AES256' && sse !== 'aws:kms') throw new AppError('INVALID_ARGUMENT', `sse=${sse}: use sse=AES256 or sse=aws:kms.`);
  const prefix = decodeURIComponent(u.pathname.replace(/^\/+/, '').replace(/\/+$/, ''));
  return {
    bucket: u.hostname,
    prefix: prefix ? `${prefix}/` : '',
    ...(q.get('endpoint') ? { endpoint: q.get('endpoint')! } : {}),
    region: q.get('region') ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
    pathStyle: ['true', '1', 'yes'].includes(q.get('path-style') ?? (q.get('endpoint') ? 'true' : 'false')),
    ...(sse ? { sse: sse as ServerSideEncryption } : {}),
    ...(q.get('kms-key-id') ? { kmsKeyId: q.get('kms-key-id')! } : {}),
    ...(q.get('ca') ? { ca: q.get('ca')! } : {}),
  };
}

interface SdkError {
  name?: string;
  Code?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
}

/** Maps an SDK or network error to the contract's codes; `what` names the request. */
export function mapS3Error(err: unknown, what: string, loc: S3Location): AppError {
  if (err instanceof AppError) return err;
  const e = (err ?? {}) as SdkError;
  // A HEAD response has no body, so the SDK cannot name the error: the status says it all.
  const rawName = e.name ?? e.Code ?? '';
  const name = rawName === 'Unknown' || rawName === 'UnknownError' ? '' : rawName;
  const status = e.$metadata?.httpStatusCode;
  const where = `s3://${loc.bucket}/${loc.prefix}`;
  const message = e.message && e.message !== rawName && e.message !== 'UnknownError' ? e.message : '';
  const detail = [name, status ? `HTTP ${status}` : '', message].filter(Boolean).join(', ');
  if (name === 'NoSuchKey' || name === 'NotFound' || (status === 404 && name !== 'NoSuchBucket')) return new AppError('NOT_FOUND', `${what}: no such object in ${where}.`, { cause: err });
  if (name === 'NoSuchBucket') return new AppError('REPO_NOT_FOUND', `The bucket "${loc.bucket}" does not exist (${what}); create it first, or check the location and region.`, { cause: err });
  if (['AccessDenied', 'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'InvalidToken', 'ExpiredToken', 'AllAccessDisabled', 'CredentialsProviderError'].includes(name) || status === 403 || status === 401) {
    return new AppError('PERMISSION_DENIED', `S3 refused ${what} in ${where}: ${detail}. Check the credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or the destination's) and the bucket policy.`, { cause: err });
  }
  if (status === 507 || name === 'XMinioStorageFull' || name === 'QuotaExceeded') return new AppError('STORAGE_FULL', `The S3 store is full (${what}): ${detail}.`, { cause: err });
  const tlsCodes = ['DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_HAS_EXPIRED', 'ERR_TLS_CERT_ALTNAME_INVALID'];
  const errCode = String((err as NodeJS.ErrnoException).code ?? '');
  if (tlsCodes.includes(errCode)) {
    return new AppError('PERMISSION_DENIED', `The S3 endpoint's TLS certificate is not trusted (${errCode}: ${e.message}); if it is issued by a private CA, give that CA's certificate with ca=FILE in the location.`, { cause: err });
  }
  const transientNames = ['SlowDown', 'ServiceUnavailable', 'InternalError', 'RequestTimeout', 'RequestTimeTooSkewed', 'TimeoutError', 'Throttling', 'ThrottlingException', 'RequestLimitExceeded', 'ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'ENOTFOUND'];
  const code = (err as NodeJS.ErrnoException).code ?? '';
  if ((status !== undefined && (status >= 500 || status === 429 || status === 408)) || transientNames.includes(name) || transientNames.includes(code) || /socket hang up|network|timed? ?out|aborted/i.test(e.message ?? '')) {
    return new AppError('STORAGE_UNAVAILABLE', `S3 request failed (${what} in ${where}): ${detail || code || 'connection failed'}.`, { cause: err });
  }
  if (status === 400 && name === 'InvalidBucketName') return new AppError('INVALID_ARGUMENT', `"${loc.bucket}" is not a valid bucket name.`, { cause: err });
  return new AppError('STORAGE_UNAVAILABLE', `S3 request failed (${what} in ${where}): ${detail || String(err)}.`, { cause: err });
}

export class S3Backend implements Backend {
  readonly location: string;
  private readonly client: S3Client;

  constructor(
    private readonly loc: S3Location,
    credentials?: S3Credentials,
    opts: { requestTimeoutMs?: number; maxSockets?: number } = {},
  ) {
    this.location = `s3://${loc.bucket}/${loc.prefix}${loc.endpoint ? ` at ${loc.endpoint}` : ''}`;
    const agentOpts = { keepAlive: true, maxSockets: opts.maxSockets ?? 16 };
    this.client = new S3Client({
      region: loc.region,
      ...(loc.endpoint ? { endpoint: loc.endpoint } : {}),
      forcePathStyle: loc.pathStyle,
      ...(credentials ? { credentials } : {}),
      maxAttempts: 1,
      // Stay within what S3-compatible stores (MinIO, Ceph) accept: checksums only where S3 requires them.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      requestHandler: {
        requestTimeout: opts.requestTimeoutMs ?? 120_000,
        connectionTimeout: 10_000,
        httpAgent: new HttpAgent(agentOpts),
        httpsAgent: new HttpsAgent({ ...agentOpts, ...(loc.ca ? { ca: readFileSync(loc.ca) } : {}) }),
      },
    });
  }

  private key(h: Handle): string {
    if (h.kind === 'config') return `${this.loc.prefix}config`;
    if (!/^[0-9a-f]{8,64}$/.test(h.name)) throw new AppError('INVALID_ARGUMENT', `Invalid object name "${h.name}".`);
    return `${this.loc.prefix}${h.kind}/${h.name}`;
  }

  private async send<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw mapS3Error(err, what, this.loc);
    }
  }

  private sse() {
    return { ...(this.loc.sse ? { ServerSideEncryption: this.loc.sse } : {}), ...(this.loc.kmsKeyId ? { SSEKMSKeyId: this.loc.kmsKeyId } : {}) };
  }

  async put(h: Handle, data: Uint8Array | readonly Uint8Array[]): Promise<void> {
    const body = data instanceof Uint8Array ? data : Buffer.concat(data as Uint8Array[]);
    const Key = this.key(h);
    const Bucket = this.loc.bucket;
    if (body.length <= MULTIPART_OVER) {
      await this.send(`writing ${Key}`, () => this.client.send(new PutObjectCommand({ Bucket, Key, Body: body, ContentLength: body.length, ...this.sse() })));
      return;
    }
    const { UploadId } = await this.send(`starting the upload of ${Key}`, () => this.client.send(new CreateMultipartUploadCommand({ Bucket, Key, ...this.sse() })));
    try {
      const parts: { ETag: string; PartNumber: number }[] = [];
      for (let off = 0, n = 1; off < body.length; off += PART_SIZE, n++) {
        const chunk = body.subarray(off, Math.min(body.length, off + PART_SIZE));
        const r = await this.send(`uploading part ${n} of ${Key}`, () => this.client.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: n, Body: chunk, ContentLength: chunk.length })));
        parts.push({ ETag: r.ETag!, PartNumber: n });
      }
      await this.send(`completing ${Key}`, () => this.client.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: parts } })));
    } catch (err) {
      // An unfinished upload is invisible but billed: abort it.
      await this.client.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId })).catch(() => undefined);
      throw err;
    }
  }

  async get(h: Handle, range?: { offset: number; length: number }): Promise<Buffer> {
    const Key = this.key(h);
    if (range && range.length === 0) return Buffer.alloc(0);
    const r = await this.send(`reading ${Key}`, async () => {
      const res = await this.client.send(new GetObjectCommand({ Bucket: this.loc.bucket, Key, ...(range ? { Range: `bytes=${range.offset}-${range.offset + range.length - 1}` } : {}) }));
      return Buffer.from(await res.Body!.transformToByteArray());
    });
    if (range && r.length !== range.length) {
      throw new AppError('CORRUPT', `${Key} is shorter than expected (wanted ${range.length} bytes at offset ${range.offset}, got ${r.length}).`);
    }
    return r;
  }

  async *getStream(h: Handle, range: { offset: number; length: number }): AsyncIterable<Buffer> {
    const Key = this.key(h);
    if (range.length === 0) return;
    const what = `reading ${Key}`;
    const res = await this.send(what, () => this.client.send(new GetObjectCommand({ Bucket: this.loc.bucket, Key, Range: `bytes=${range.offset}-${range.offset + range.length - 1}` })));
    const body = res.Body as (AsyncIterable<Uint8Array> & { destroy?: () => void }) | undefined;
    if (!body) throw new AppError('STORAGE_UNAVAILABLE', `S3 sent no body (${what}).`);
    yield* exactRange(body, range.length, (err) => mapS3Error(err, what, this.loc), (got) => new AppError('CORRUPT', `${Key} is shorter than expected (wanted ${range.length} bytes at offset ${range.offset}, got ${got}).`));
  }

  async stat(h: Handle): Promise<ObjectInfo> {
    const Key = this.key(h);
    const r = await this.send(`looking up ${Key}`, () => this.client.send(new HeadObjectCommand({ Bucket: this.loc.bucket, Key })));
    return { name: h.name, size: r.ContentLength ?? 0 };
  }

  async *list(kind: FileKind): AsyncIterable<ObjectInfo> {
    if (kind === 'config') {
      yield* listConfig((h) => this.stat(h));
      return;
    }
    const Prefix = `${this.loc.prefix}${kind}/`;
    let ContinuationToken: string | undefined;
    do {
      const r = await this.send(`listing ${Prefix}`, () => this.client.send(new ListObjectsV2Command({ Bucket: this.loc.bucket, Prefix, ...(ContinuationToken ? { ContinuationToken } : {}) })));
      for (const o of r.Contents ?? []) {
        const name = o.Key!.slice(Prefix.length);
        if (/^[0-9a-f]{8,64}$/.test(name)) yield { name, size: o.Size ?? 0 };
      }
      ContinuationToken = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (ContinuationToken);
  }

  async remove(h: Handle, opts?: RemoveOptions): Promise<void> {
    // S3 deletes of missing keys succeed; the contract reports them unless the caller does not care.
    if (!opts?.missingOk) await this.stat(h);
    const Key = this.key(h);
    await this.send(`deleting ${Key}`, () => this.client.send(new DeleteObjectCommand({ Bucket: this.loc.bucket, Key })));
  }

  isRepository(): Promise<boolean> {
    return hasConfig((h) => this.stat(h));
  }

  /** Anything at all under the prefix (to refuse a bucket that holds something else). */
  async hasAnyObject(): Promise<string | undefined> {
    const r = await this.send('listing the prefix', () => this.client.send(new ListObjectsV2Command({ Bucket: this.loc.bucket, Prefix: this.loc.prefix, MaxKeys: 1 })));
    return r.Contents?.[0]?.Key;
  }

  async create(): Promise<void> {
    try {
      await this.send(`checking the bucket ${this.loc.bucket}`, () => this.client.send(new HeadBucketCommand({ Bucket: this.loc.bucket })));
    } catch (err) {
      // HEAD has no body: a missing bucket is a bare 404.
      if (err instanceof AppError && err.code === 'NOT_FOUND') throw new AppError('REPO_NOT_FOUND', `The bucket "${this.loc.bucket}" does not exist; create it first, or check the location and region.`);
      throw err;
    }
    if (await this.isRepository()) throw new AppError('REPO_EXISTS', `A repository already exists at ${this.location}.`);
    const other = await this.hasAnyObject();
    if (other !== undefined) {
      throw new AppError('CONFLICT', `s3://${this.loc.bucket}/${this.loc.prefix} is not empty (it holds ${other}) and is not a Strongbox repository; choose an empty bucket or another prefix.`);
    }
  }

  async close(): Promise<void> {
    this.client.destroy();
  }
}
