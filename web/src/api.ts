/** The console talks to the API only: a session cookie, and the CSRF token on every change. */
import type { JobView, MeView, SnapshotView } from '../../src/api/contract/responses.js';

// Response bodies come from the API's contract (src/api/contract/responses.ts): the server is
// compiled against the same types, so the console cannot drift from what the server sends.
export type { SnapshotView };
export type Me = MeView;
export type JobRecord = JobView;

export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly details?: Record<string, unknown>) {
    super(message);
  }
}

/** An error in words for the page: the server's message, or the error itself. */
export function message(e: unknown): string {
  return e instanceof ApiError ? e.message : String(e);
}

/** A form's submit: no reload, the error (if any) shown with setError. */
export function submitting(setError: (m: string | undefined) => void, fn: () => Promise<void>): (e: { preventDefault(): void }) => Promise<void> {
  return async (e) => {
    e.preventDefault();
    try {
      await fn();
    } catch (err) {
      setError(message(err));
    }
  };
}

let csrf: string | undefined;
export function csrfToken(): string | undefined {
  return csrf;
}
export function setCsrf(t: string | undefined): void {
  csrf = t;
}

export async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrf) headers['x-csrf-token'] = csrf;
  const res = await fetch(path, { method, headers, credentials: 'same-origin', ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  const text = await res.text();
  const data = text ? (JSON.parse(text) as unknown) : undefined;
  if (!res.ok) {
    const e = (data as { error?: { code: string; message: string; details?: Record<string, unknown> } } | undefined)?.error;
    throw new ApiError(res.status, e?.code ?? 'INTERNAL', e?.message ?? `${res.status} ${res.statusText}`, e?.details);
  }
  return data as T;
}

export const get = <T,>(p: string) => call<T>('GET', p);
export const post = <T,>(p: string, b?: unknown) => call<T>('POST', p, b ?? {});

export function can(me: Me, need: 'viewer' | 'operator' | 'admin'): boolean {
  const order = ['viewer', 'operator', 'admin'];
  return order.indexOf(me.role) >= order.indexOf(need);
}

export function bytes(n: number): string {
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < u.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${u[i]}`;
}

export function when(iso: string | null | undefined): string {
  return iso ? iso.replace('T', ' ').slice(0, 19) + ' UTC' : '—';
}


