import { createReadStream, createWriteStream, renameSync, rmSync, statSync } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AppError, errorTable, type ErrorCode } from '../../kernel/index.js';
import type { ErrorBody } from '../contract/index.js';

export interface SseEvent {
  event: string;
  data: unknown;
  id?: string;
}

/**
 * The CLI's way to a running server: JSON over HTTP with an API token. Errors
 * come back as the server's own codes, so exit statuses match local runs; a
 * server that cannot be reached is SERVER_UNAVAILABLE with the URL.
 */
export class ApiClient {
  constructor(readonly baseUrl: string, private readonly token: string | undefined) {}

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return { ...(this.token ? { authorization: `Bearer ${this.token}` } : {}), ...extra };
  }

  private async fetch(path: string, init: RequestInit & { duplex?: 'half' }): Promise<Response> {
    let res: Response;
    try {
      res = await fetch(new URL(path, this.baseUrl), init);
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY/.test(cause?.code ?? '')) {
        throw new AppError('SERVER_UNAVAILABLE', `The certificate of ${this.baseUrl} is not trusted (${cause!.code}): give its CA with NODE_EXTRA_CA_CERTS=FILE (PEM), or use a certificate from a CA this machine trusts.`, { cause: err });
      }
      throw new AppError('SERVER_UNAVAILABLE', `Cannot reach the Strongbox server at ${this.baseUrl}: ${cause?.code ?? cause?.message ?? (err as Error).message}. Is "strongbox serve" running there?`, { cause: err });
    }
    if (!res.ok) {
      let body: ErrorBody | undefined;
      try {
        body = (await res.json()) as ErrorBody;
      } catch {
        /* not ours */
      }
      const code = body?.error?.code;
      if (code && code in errorTable) throw new AppError(code as ErrorCode, body!.error.message, body!.error.details ? { details: body!.error.details } : {});
      throw new AppError(res.status === 401 ? 'UNAUTHENTICATED' : res.status === 403 ? 'FORBIDDEN' : 'INTERNAL', `The server answered ${res.status} ${res.statusText} to ${init.method ?? 'GET'} ${path}.`);
    }
    return res;
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.fetch(path, { method, headers: this.headers(body === undefined ? {} : { 'content-type': 'application/json' }), ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    return (await res.json()) as T;
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }

  async text(path: string): Promise<string> {
    return (await this.fetch(path, { method: 'GET', headers: this.headers() })).text();
  }

  /** Streams a file up (an archive), with headers such as X-Archive-Password. */
  async upload<T>(path: string, file: string, headers: Record<string, string>): Promise<T> {
    const size = statSync(file).size;
    const res = await this.fetch(path, {
      method: 'POST',
      headers: this.headers({ 'content-type': 'application/octet-stream', 'content-length': String(size), ...headers }),
      body: Readable.toWeb(createReadStream(file)) as unknown as NonNullable<RequestInit['body']>,
      duplex: 'half',
    });
    return (await res.json()) as T;
  }

  /** Streams a response body to a stream (stdout). */
  async stream(path: string, out: NodeJS.WritableStream): Promise<void> {
    const res = await this.fetch(path, { method: 'GET', headers: this.headers() });
    await pipeline(Readable.fromWeb(res.body as never), out, { end: false });
  }

  /** Streams a response body into a file, atomically (.partial, then renamed). */
  async download(path: string, file: string): Promise<number> {
    const res = await this.fetch(path, { method: 'GET', headers: this.headers() });
    const tmp = `${file}.partial`;
    try {
      await pipeline(Readable.fromWeb(res.body as never), createWriteStream(tmp, { mode: 0o600 }));
      renameSync(tmp, file);
    } catch (err) {
      rmSync(tmp, { force: true });
      throw err;
    }
    return statSync(file).size;
  }

  /** Follows a Server-Sent Events stream until it ends or onEvent returns false. */
  async events(path: string, onEvent: (e: SseEvent) => boolean | void, signal?: AbortSignal): Promise<void> {
    const res = await this.fetch(path, { method: 'GET', headers: this.headers({ accept: 'text/event-stream' }), ...(signal ? { signal } : {}) });
    const decoder = new TextDecoder();
    let buf = '';
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buf += decoder.decode(value, { stream: true });
        let i: number;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          let event = 'message';
          let data = '';
          let id: string | undefined;
          for (const line of block.split('\n')) {
            if (line.startsWith('event: ')) event = line.slice(7);
            else if (line.startsWith('data: ')) data += line.slice(6);
            else if (line.startsWith('id: ')) id = line.slice(4);
          }
          if (!data) continue;
          if (onEvent({ event, data: JSON.parse(data), ...(id ? { id } : {}) }) === false) return;
        }
      }
    } finally {
      await reader.cancel().catch(() => undefined);
    }
  }
}
