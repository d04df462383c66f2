import * as R from '../../contract/schemas.js';
import type { MeView } from '../../contract/responses.js';
import { AppError } from '../../../kernel/index.js';
import { LoginBody, PasswordBody } from '../../contract/index.js';
import { COOKIE, type RouteTable } from '../http.js';
import type { LoginLimiter } from '../ratelimit.js';

export const SESSION_TTL_MS = 12 * 3600e3;

export function authRoutes(t: RouteTable, o: { limiter: LoginLimiter; secureCookies: boolean }): void {
  t.add({
    method: 'POST',
    url: '/api/auth/login',
    response: R.Login,
    access: 'public',
    tag: 'auth',
    summary: 'Sign in: sets an HTTP-only session cookie and returns the CSRF token for state-changing requests',
    body: LoginBody,
    async handler({ req, reply, body, core }) {
      const now = core.clock.now();
      const keys = [`ip:${req.ip}`, `user:${body.user}@${req.ip}`];
      const wait = o.limiter.reserve(keys, now.getTime());
      if (wait > 0) {
        await core.audit(body.user, 'auth.login', body.user, req.ip, 'rate-limited');
        reply.header('retry-after', String(wait));
        throw new AppError('RATE_LIMITED', `Too many failed sign-ins; try again in ${wait} s.`, { details: { retryAfterSeconds: wait } });
      }
      const user = await core.inst.accounts.authenticate(body.user, body.password);
      if (!user) {
        await core.audit(body.user, 'auth.login', body.user, req.ip, 'failed');
        throw new AppError('UNAUTHENTICATED', 'Wrong user name or password.');
      }
      o.limiter.succeed(keys);
      const s = await core.inst.accounts.createSession(user.name, req.ip, now, SESSION_TTL_MS);
      reply.header('set-cookie', `${COOKIE}=${s.secret}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${SESSION_TTL_MS / 1000}${o.secureCookies ? '; Secure' : ''}`);
      await core.audit(user.name, 'auth.login', user.name, req.ip, 'ok');
      return { user: user.name, role: user.role, csrf: s.csrf, expiresAt: s.expiresAt, mustChangePassword: user.mustChangePassword };
    },
  });

  t.add({
    method: 'POST',
    url: '/api/auth/logout',
    response: R.Ok,
    access: 'authenticated',
    beforePasswordChange: true,
    tag: 'auth',
    summary: 'Sign out: ends the session',
    async handler({ req, reply, actor, core }) {
      if (req.sessionSecret) await core.inst.accounts.endSession(req.sessionSecret);
      reply.header('set-cookie', `${COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`);
      await core.audit(actor, 'auth.logout', null, req.ip, 'ok');
      return { ok: true };
    },
  });

  t.add({
    method: 'GET',
    url: '/api/auth/me',
    response: R.Me,
    access: 'authenticated',
    beforePasswordChange: true,
    tag: 'auth',
    summary: 'Who is signed in, with which role (and the session\'s CSRF token)',
    async handler({ principal }): Promise<MeView> {
      const p = principal!;
      return { user: p.user, role: p.role, via: p.via, ...(p.csrf ? { csrf: p.csrf } : {}), ...(p.token ? { token: p.token } : {}), mustChangePassword: !!p.mustChangePassword };
    },
  });

  t.add({
    method: 'POST',
    url: '/api/auth/password',
    response: R.Ok,
    access: 'authenticated',
    beforePasswordChange: true,
    tag: 'auth',
    summary: 'Change your own password (ends your other sessions and revokes your API tokens)',
    body: PasswordBody,
    async handler({ req, reply, body, principal, core }) {
      const p = principal!;
      const ok = await core.inst.accounts.authenticate(p.user, body.current);
      if (!ok) {
        await core.audit(p.user, 'auth.password', p.user, req.ip, 'failed');
        throw new AppError('UNAUTHENTICATED', 'The current password is wrong.');
      }
      // Every session and token of the user ends: whoever knew the old password keeps nothing.
      await core.inst.accounts.setPassword(p.user, body.new, core.clock.now(), false);
      let csrf: string | undefined;
      if (p.via === 'session') {
        const s = await core.inst.accounts.createSession(p.user, req.ip, core.clock.now(), SESSION_TTL_MS);
        csrf = s.csrf;
        reply.header('set-cookie', `${COOKIE}=${s.secret}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${SESSION_TTL_MS / 1000}${o.secureCookies ? '; Secure' : ''}`);
      }
      await core.audit(p.user, 'auth.password', p.user, req.ip, 'ok');
      return { ok: true, ...(csrf ? { csrf } : {}) };
    },
  });
}
