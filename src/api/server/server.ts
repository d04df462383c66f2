import { randomBytes } from 'node:crypto';
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import { pino, type Logger } from 'pino';
import { AppError, installedFile, redactSecrets, registerSecret, type Clock } from '../../kernel/index.js';
import { openInstance, VERSION, type Instance } from '../../app/index.js';
import { ServerCore } from './core.js';
import { COOKIE, errorResponse, parseCookies, RouteTable } from './http.js';
import { openApiDocument, referencePage } from './openapi.js';
import { LoginLimiter } from './ratelimit.js';
import { authRoutes } from './routes/auth.js';
import { configRoutes } from './routes/config.js';
import { jobRoutes } from './routes/jobs.js';
import { scheduleRoutes } from './routes/schedules.js';
import { snapshotRoutes } from './routes/snapshots.js';
import { systemRoutes } from './routes/system.js';
import { userRoutes } from './routes/users.js';

export interface ServeOptions {
  host?: string;
  port?: number;
  tlsCert?: string;
  tlsKey?: string;
  /** Jobs at once (default 2). */
  concurrency?: number;
  /** Days finished job records are kept (default 90). */
  jobRetentionDays?: number;
  maxUploadBytes?: number;
  logLevel?: string;
  /** Where the JSON log goes (default stdout). */
  logDestination?: NodeJS.WritableStream;
  clock?: Clock;
  /** Failed sign-ins allowed per address or user within 15 minutes (default 5). */
  loginAttempts?: number;
  /** Said once at first start (the one-time admin password) and at listen; default stderr. */
  say?: (line: string) => void;
  instance?: Instance;
}

export interface RunningServer {
  url: string;
  core: ServerCore;
  app: FastifyInstance;
  close(): Promise<void>;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/** The first start creates the admin account: a one-time password (or STRONGBOX_ADMIN_PASSWORD), said once. */
async function ensureAdmin(inst: Instance, clock: Clock, say: (l: string) => void, log: Logger): Promise<void> {
  const given = process.env.STRONGBOX_ADMIN_PASSWORD;
  // The bootstrap password is for the first start only: afterwards it is ignored, masked, and gone from this process's environment.
  registerSecret(given);
  delete process.env.STRONGBOX_ADMIN_PASSWORD;
  // The first start is "no admin yet" — not "no user yet": users added on this machine before the
  // server ever ran must not leave the instance without anyone who can administer it.
  const users = await inst.accounts.list();
  if (users.some((u) => u.role === 'admin')) return;
  if (users.some((u) => u.name === 'admin')) {
    say('No user has the admin role; make one with "strongbox user set-role NAME admin" on this machine.');
    return;
  }
  const password = given || randomBytes(12).toString('base64url');
  await inst.accounts.add('admin', 'admin', password, !given, clock.now());
  await inst.audit.record({ time: clock.now().toISOString(), actor: 'server', action: 'user.add', target: 'admin', ip: null, outcome: 'ok', details: { firstStart: true, passwordFrom: given ? 'STRONGBOX_ADMIN_PASSWORD' : 'one-time' } });
  log.info('first start: created the admin account');
  if (given) say('First start: created user "admin" with the password from STRONGBOX_ADMIN_PASSWORD.');
  else say(`First start: created user "admin" with the one-time password  ${password}\nSign in and choose a new password (it is not shown again).`);
}

export async function startServer(o: ServeOptions = {}): Promise<RunningServer> {
  const host = o.host ?? '127.0.0.1';
  const port = o.port ?? 8080;
  const say = o.say ?? ((l: string) => process.stderr.write(`${l}\n`));
  const tls = o.tlsCert || o.tlsKey;
  if (tls && !(o.tlsCert && o.tlsKey)) throw new AppError('USAGE', 'TLS needs both --tls-cert FILE and --tls-key FILE.');
  const log = pino(
    {
      level: o.logLevel ?? process.env.STRONGBOX_LOG_LEVEL ?? 'info',
      base: { service: 'strongbox' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: ['req.headers.authorization', 'req.headers.cookie', 'req.headers["x-archive-password"]', 'req.headers["x-csrf-token"]', 'password', '*.password'], censor: '***' },
      hooks: {
        logMethod(args, method) {
          method.apply(this, args.map((a) => (typeof a === 'string' ? redactSecrets(a) : a)) as Parameters<typeof method>);
        },
      },
    },
    (o.logDestination ?? process.stdout) as never,
  );
  const inst = o.instance ?? (await openInstance());
  const core = new ServerCore({ inst, log, ...(o.clock ? { clock: o.clock } : {}), ...(o.concurrency ? { concurrency: o.concurrency } : {}), ...(o.jobRetentionDays ? { jobRetentionDays: o.jobRetentionDays } : {}) });
  await ensureAdmin(inst, core.clock, say, log);

  const app = Fastify({
    loggerInstance: log,
    bodyLimit: 1024 * 1024,
    ...(tls ? { https: { cert: readFileSync(o.tlsCert!), key: readFileSync(o.tlsKey!) } } : {}),
  } as never) as unknown as FastifyInstance;
  app.addContentTypeParser('application/octet-stream', (_req, payload, done) => done(null, payload));
  app.addContentTypeParser(['text/plain'], { parseAs: 'string' }, (_req, body, done) => done(null, body));

  app.addHook('onRequest', async (req) => {
    const now = core.clock.now();
    const auth = req.headers.authorization;
    if (auth?.startsWith('Bearer ')) {
      const p = await inst.accounts.verifyToken(auth.slice(7).trim(), now);
      if (!p) throw new AppError('UNAUTHENTICATED', 'The API token is not valid: it is wrong, revoked or expired. Create one with "strongbox token create".');
      req.principal = p;
      return;
    }
    const secret = parseCookies(req.headers.cookie)[COOKIE];
    if (secret) {
      const p = await inst.accounts.session(secret, now);
      if (p) {
        req.principal = p;
        req.sessionSecret = secret;
      }
    }
  });
  app.addHook('onSend', async (_req, reply) => {
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
    reply.header('x-frame-options', 'DENY');
  });
  app.setErrorHandler((err, req, reply) => {
    const { status, body } = errorResponse(err);
    if (status >= 500) req.log.error({ err: { message: redactSecrets((err as Error).message), code: body.error.code } }, body.error.message);
    else req.log.info({ code: body.error.code, status }, body.error.message);
    void reply.code(status).send(body);
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.code(404).send({ error: { code: 'NOT_FOUND', message: `No route ${req.method} ${req.url.split('?')[0]}. The API reference is at /api/docs.` } });
  });

  const table = new RouteTable();
  const limiter = new LoginLimiter(o.loginAttempts ?? Number(process.env.STRONGBOX_LOGIN_ATTEMPTS ?? 5));
  authRoutes(table, { limiter, secureCookies: !!tls });
  userRoutes(table);
  configRoutes(table);
  snapshotRoutes(table, { maxUploadBytes: o.maxUploadBytes ?? 64 * 1024 ** 3 });
  jobRoutes(table);
  scheduleRoutes(table);
  systemRoutes(table);
  table.register(app, core);
  const doc = openApiDocument(table, VERSION);
  app.get('/api/openapi.json', async () => doc);
  const page = referencePage(table, VERSION);
  app.get('/api/docs', async (_req, reply) => reply.type('text/html; charset=utf-8').send(page));
  serveConsole(app);

  await core.start();
  try {
    await app.listen({ host, port });
  } catch (err) {
    await core.stop();
    await app.close();
    if (!o.instance) await inst.close();
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new AppError('CONFLICT', `Port ${port} on ${host} is in use: stop what listens there or choose another with --port.`);
    if (code === 'EACCES') throw new AppError('PERMISSION_DENIED', `Not allowed to listen on ${host}:${port}: choose a port above 1023 or run with the right privileges.`);
    throw err;
  }
  const addr = app.server.address() as AddressInfo;
  const shown = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  const url = `${tls ? 'https' : 'http'}://${shown}:${addr.port}`;
  if (!tls && !LOOPBACK.has(host)) {
    const warning = `WARNING: serving plain HTTP on ${host}: passwords, tokens and archives cross the network unencrypted. Use --tls-cert/--tls-key, or a TLS proxy in front.`;
    say(warning);
    log.warn(warning);
  }
  say(`Strongbox ${VERSION} is serving at ${url}  (console ${url}/, API reference ${url}/api/docs)`);
  log.info({ url }, 'listening');
  let closing: Promise<void> | undefined;
  return {
    url,
    core,
    app,
    close: () =>
      (closing ??= (async () => {
        log.info('shutting down: canceling running jobs (post hooks run), then closing');
        await core.stop();
        await app.close();
        if (!o.instance) await inst.close();
        log.info('stopped');
        log.flush();
      })()),
  };
}

const CONSOLE_DIR = fileURLToPath(installedFile('dist/web/'));
const TYPES: Record<string, string> = { '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.html': 'text/html; charset=utf-8', '.svg': 'image/svg+xml', '.png': 'image/png', '.woff2': 'font/woff2' };

/** The admin console (built by `npm run build` into dist/web) from the same port: the page at /, its assets under /assets/. */
function serveConsole(app: FastifyInstance): void {
  const index = path.join(CONSOLE_DIR, 'index.html');
  const csp = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";
  app.get('/', async (_req, reply) => {
    if (!existsSync(index)) {
      return reply.type('text/html; charset=utf-8').send(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Strongbox</title></head><body style="font:16px system-ui;max-width:40em;margin:3em auto"><h1>Strongbox ${VERSION}</h1><p>The console is not built: run <code>npm run build</code> in the checkout. The API reference is at <a href="/api/docs">/api/docs</a>.</p></body></html>`);
    }
    return reply.header('content-security-policy', csp).header('cache-control', 'no-cache').type('text/html; charset=utf-8').send(createReadStream(index));
  });
  app.get('/assets/:file', async (req, reply) => {
    const name = (req.params as { file: string }).file;
    if (!/^[A-Za-z0-9._-]+$/.test(name) || name.startsWith('.')) throw new AppError('NOT_FOUND', `No console file ${name}.`);
    const file = path.join(CONSOLE_DIR, 'assets', name);
    if (!existsSync(file)) throw new AppError('NOT_FOUND', `No console file ${name}.`);
    return reply.header('cache-control', 'public, max-age=31536000, immutable').type(TYPES[path.extname(name)] ?? 'application/octet-stream').send(createReadStream(file));
  });
}
