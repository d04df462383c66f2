/* eslint-disable @typescript-eslint/no-explicit-any -- JSON replies of the API under test are checked field by field */
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { BIN, instanceCli, type Cli } from './cli.js';

/** A real `strongbox serve` process on a free loopback port, with its own instance home. */
export interface ServerProc {
  url: string;
  proc: ChildProcess;
  root: string;
  /** The CLI on the server's machine (same STRONGBOX_HOME, no --server). */
  local: Cli;
  out(): string;
  err(): string;
  /** SIGTERM and wait for the exit. */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILL (a crash) and wait for the exit. */
  kill(): Promise<void>;
}

export const ADMIN_PASSWORD = 'admin-password-for-tests';

export async function startServe(root: string, o: { env?: NodeJS.ProcessEnv; args?: string[]; adminPassword?: string | null } = {}): Promise<ServerProc> {
  const local = instanceCli(root);
  // Every answer of the server is checked against its route's response schema (api/contract/schemas.ts).
  const env = local.env({ ...(o.adminPassword === null ? {} : { STRONGBOX_ADMIN_PASSWORD: o.adminPassword ?? ADMIN_PASSWORD }), STRONGBOX_LOG_LEVEL: 'debug', STRONGBOX_CHECK_RESPONSES: '1', ...o.env });
  if (o.adminPassword === null) delete env.STRONGBOX_ADMIN_PASSWORD;
  delete env.STRONGBOX_SERVER;
  delete env.STRONGBOX_TOKEN;
  const proc = spawn(process.execPath, [BIN, 'serve', '--port', '0', ...(o.args ?? [])], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`strongbox serve did not start in 20 s:\n${err}\n${out}`)), 20000);
    proc.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /serving at (https?:\/\/[^\s]+)/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    void exited.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`strongbox serve exited ${code}:\n${err}\n${out}`));
    });
  });
  return {
    url,
    proc,
    root,
    local,
    out: () => out,
    err: () => err,
    stop: async () => {
      proc.kill('SIGTERM');
      return exited;
    },
    kill: async () => {
      proc.kill('SIGKILL');
      await exited;
    },
  };
}

export interface Reply<T = unknown> {
  status: number;
  body: T;
  headers: Headers;
}

/**
 * An HTTP client for tests: a bearer token, or a signed-in session (cookie
 * plus the CSRF token it got at sign-in, sent only when asked to).
 */
export class Api {
  cookie: string | undefined;
  csrf: string | undefined;

  constructor(readonly url: string, public token?: string) {}

  async login(user: string, password: string): Promise<Reply<{ csrf: string; role: string; mustChangePassword: boolean }>> {
    const r = await this.call<{ csrf: string; role: string; mustChangePassword: boolean }>('POST', '/api/auth/login', { user, password });
    const set = r.headers.get('set-cookie');
    if (r.status === 200 && set) {
      this.cookie = set.split(';')[0];
      this.csrf = r.body.csrf;
    }
    return r;
  }

  async call<T = any>(method: string, p: string, body?: unknown, o: { csrf?: boolean; headers?: Record<string, string>; raw?: NonNullable<RequestInit['body']> } = {}): Promise<Reply<T>> {
    const headers: Record<string, string> = { ...(o.headers ?? {}) };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (this.cookie) headers.cookie = this.cookie;
    if ((o.csrf ?? true) && this.csrf) headers['x-csrf-token'] = this.csrf;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(this.url + p, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : o.raw !== undefined ? { body: o.raw, duplex: 'half' } : {}) } as RequestInit);
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      /* not JSON */
    }
    return { status: res.status, body: parsed as T, headers: res.headers };
  }

  async ok<T = any>(method: string, p: string, body?: unknown): Promise<T> {
    const r = await this.call<T>(method, p, body);
    if (r.status >= 300) throw new Error(`${method} ${p} → ${r.status}: ${JSON.stringify(r.body)}`);
    return r.body;
  }

  /** Waits for a job to end (polling), returning its record. */
  async waitJob(id: string, timeoutMs = 60000): Promise<any> {
    const t0 = Date.now();
    for (;;) {
      const j = await this.ok('GET', `/api/jobs/${id}`);
      if (!['queued', 'running'].includes(j.phase)) return j;
      if (Date.now() - t0 > timeoutMs) throw new Error(`job ${id} still ${j.phase} after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Reads a job's SSE stream to its end (or until `until` says stop), returning the events. */
  async events(id: string, until?: (e: { event: string; data: any }) => boolean): Promise<{ event: string; data: any; id?: string }[]> {
    const res = await fetch(`${this.url}/api/jobs/${id}/events`, { headers: { ...(this.token ? { authorization: `Bearer ${this.token}` } : {}), ...(this.cookie ? { cookie: this.cookie } : {}) } });
    if (!res.ok) throw new Error(`events → ${res.status}`);
    const reader = res.body!.getReader();
    const dec = new TextDecoder();
    let buf = '';
    const out: { event: string; data: any; id?: string }[] = [];
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return out;
        buf += dec.decode(value, { stream: true });
        let i: number;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const ev: { event: string; data: any; id?: string } = { event: 'message', data: undefined };
          for (const line of block.split('\n')) {
            if (line.startsWith('event: ')) ev.event = line.slice(7);
            if (line.startsWith('data: ')) ev.data = JSON.parse(line.slice(6));
            if (line.startsWith('id: ')) ev.id = line.slice(4);
          }
          if (ev.data === undefined) continue;
          out.push(ev);
          if (ev.event === 'end' || until?.(ev)) return out;
        }
      }
    } finally {
      await reader.cancel().catch(() => undefined);
    }
  }
}

/** Sets up a server's instance before it starts: a local destination (created) and, optionally, applications. */
export async function prepareInstance(root: string, specs: Record<string, string> = {}): Promise<Cli> {
  const fs = await import('node:fs');
  const local = instanceCli(root, 'correct horse battery staple');
  await local.okAsync(['destination', 'add', 'main', path.join(root, 'repo'), '--init']);
  for (const [name, text] of Object.entries(specs)) {
    const f = path.join(root, `${name}.yaml`);
    fs.writeFileSync(f, text);
    await local.okAsync(['app', 'add', '-f', f]);
  }
  return local;
}
