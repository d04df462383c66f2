import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z, type ZodType } from 'zod';
import { AppError, errorTable, redactSecrets, toAppError } from '../../kernel/index.js';
import type { Principal } from '../../catalog/index.js';
import type { Caller } from '../../operations/index.js';
import { roleAllows, type Access, type ErrorBody } from '../contract/index.js';
import type { ServerCore } from './core.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
    /** The session's secret, when the request came with the console's cookie. */
    sessionSecret?: string;
  }
}

export interface Ctx<B, Q> {
  req: FastifyRequest;
  reply: FastifyReply;
  principal: Principal | undefined;
  /** "user" or "user (token NAME)" — for the audit log and job records. */
  actor: string;
  /** Who asks, as the operations take it: actor, role and address. */
  caller: Caller;
  body: B;
  query: Q;
  params: Record<string, string>;
  core: ServerCore;
}

export interface RouteDef<B = unknown, Q = unknown> {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  url: string;
  access: Access;
  summary: string;
  tag: string;
  description?: string;
  body?: ZodType<B>;
  query?: ZodType<Q>;
  /** Allowed while the user must still change a one-time password. */
  beforePasswordChange?: boolean;
  /** The body is a byte stream (uploads), not JSON. */
  rawBody?: boolean;
  /** Responds with Server-Sent Events. */
  sse?: boolean;
  /** Responds with a file. */
  binary?: boolean;
  status?: number;
  /** The response body of a JSON route (api/contract/schemas.ts): in the OpenAPI document, and checked under STRONGBOX_CHECK_RESPONSES. */
  response?: ZodType;
  handler(ctx: Ctx<B, Q>): Promise<unknown>;
}

export const COOKIE = 'strongbox_session';

/** Tests start servers with STRONGBOX_CHECK_RESPONSES=1: every JSON answer is checked against its route's schema. */
const checkResponses = process.env.STRONGBOX_CHECK_RESPONSES === '1';

export function actorOf(p: Principal | undefined): string {
  if (!p) return 'anonymous';
  return p.via === 'token' ? `${p.user} (token ${p.token})` : p.user;
}

/** Turns any error into the API's envelope and status, from the one error table. */
export function errorResponse(err: unknown): { status: number; body: ErrorBody } {
  const fe = err as { code?: string; statusCode?: number; message?: string };
  let e: AppError;
  if (err instanceof AppError) e = err;
  else if (fe?.code === 'FST_ERR_CTP_BODY_TOO_LARGE') e = new AppError('TOO_LARGE', 'The request body is over the size limit.');
  else if (fe?.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') e = new AppError('INVALID_ARGUMENT', 'Unsupported Content-Type: send application/json (or application/octet-stream for uploads).');
  else if (fe?.code?.startsWith('FST_ERR_CTP') || (fe?.statusCode === 400 && fe.message)) e = new AppError('INVALID_ARGUMENT', `The request body is not valid: ${fe.message}`);
  else e = toAppError(err);
  const details = e.details ? Object.fromEntries(Object.entries(e.details).filter(([k]) => k !== 'reported')) : undefined;
  return { status: errorTable[e.code].http, body: { error: { code: e.code, message: redactSecrets(e.message), ...(details && Object.keys(details).length ? { details } : {}) } } };
}

function parse<T>(schema: ZodType<T> | undefined, value: unknown, where: 'body' | 'query'): T {
  if (!schema) return value as T;
  const r = schema.safeParse(value ?? (where === 'query' ? {} : undefined));
  if (r.success) return r.data;
  const issues = r.error.issues.map((i) => ({ path: [where, ...i.path.map(String)].join('.'), message: i.message }));
  throw new AppError('INVALID_ARGUMENT', `Invalid request: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, { details: { issues } });
}

/** The routes, kept as data: registered with fastify and described in the OpenAPI document from the same table. */
export class RouteTable {
  readonly routes: RouteDef<never, never>[] = [];

  add<B, Q>(def: RouteDef<B, Q>): void {
    // Every JSON route says what it answers: the OpenAPI document describes it, and tests check it.
    if (!def.response && !def.sse && !def.binary) throw new Error(`route ${def.method} ${def.url} has no response schema`);
    this.routes.push(def as unknown as RouteDef<never, never>);
  }

  register(app: FastifyInstance, core: ServerCore): void {
    for (const def of this.routes) {
      app.route({
        method: def.method,
        url: def.url,
        handler: async (req, reply) => {
          const p = req.principal;
          authorize(def, req, p);
          const ctx: Ctx<never, never> = {
            req,
            reply,
            principal: p,
            actor: actorOf(p),
            caller: { actor: actorOf(p), role: p?.role ?? 'viewer', ip: req.ip },
            body: def.rawBody ? (undefined as never) : parse(def.body, req.body, 'body'),
            query: parse(def.query, req.query, 'query'),
            params: req.params as Record<string, string>,
            core,
          };
          const out = await def.handler(ctx);
          if (def.sse || def.binary || reply.sent) return reply;
          if (def.status) reply.code(def.status);
          const body = out ?? { ok: true };
          if (checkResponses && def.response) {
            const r = def.response.safeParse(JSON.parse(JSON.stringify(body)));
            if (!r.success) throw new AppError('INTERNAL', `${def.method} ${def.url} answered a body its response schema does not describe: ${r.error.issues.slice(0, 3).map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
          }
          return body;
        },
      });
    }
  }
}

function authorize(def: RouteDef<never, never>, req: FastifyRequest, p: Principal | undefined): void {
  if (def.access === 'public') return;
  if (!p) throw new AppError('UNAUTHENTICATED', 'Sign in first, or send an API token: "Authorization: Bearer TOKEN" (the CLI: --token or STRONGBOX_TOKEN).');
  if (p.mustChangePassword && !def.beforePasswordChange) throw new AppError('FORBIDDEN', 'Change your one-time password first (POST /api/auth/password, or the console\'s first page).');
  if (def.access !== 'authenticated' && !roleAllows(p.role, def.access)) throw new AppError('FORBIDDEN', `This needs the ${def.access} role; ${p.user} is ${p.role}.`);
  // The console's cookie rides along with any request the browser makes: a state change must also carry the session's CSRF token.
  if (p.via === 'session' && req.method !== 'GET' && req.method !== 'HEAD') {
    const sent = req.headers['x-csrf-token'];
    if (typeof sent !== 'string' || sent !== p.csrf) throw new AppError('FORBIDDEN', 'Missing or wrong CSRF token: send the X-CSRF-Token header the sign-in (or GET /api/auth/me) returned.');
  }
}

export function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (header ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i <= 0) continue;
    try {
      out[part.slice(0, i).trim()] = decodeURIComponent(part.slice(i + 1).trim());
    } catch {
      /* a malformed cookie is ignored, not a server error */
    }
  }
  return out;
}

export { z };
