import { z } from 'zod';
import * as R from '../../contract/schemas.js';
import { AppError } from '../../../kernel/index.js';
import { TokenBody, UserBody, UserPatch } from '../../contract/index.js';
import type { RouteTable } from '../http.js';

export function userRoutes(t: RouteTable): void {
  t.add({ method: 'GET', url: '/api/users',
    response: z.array(R.User), access: 'admin', tag: 'users', summary: 'List users', handler: async ({ core }) => core.inst.accounts.list() });

  t.add({
    method: 'POST',
    url: '/api/users',
    response: R.User,
    access: 'admin',
    tag: 'users',
    summary: 'Add a user (by default they must change the password at first sign-in)',
    body: UserBody,
    status: 201,
    async handler({ req, body, actor, core }) {
      const u = await core.inst.accounts.add(body.name, body.role, body.password, body.mustChangePassword, core.clock.now());
      await core.audit(actor, 'user.add', u.name, req.ip, 'ok', { role: u.role });
      return u;
    },
  });

  t.add({
    method: 'PATCH',
    url: '/api/users/:name',
    response: R.User,
    access: 'admin',
    tag: 'users',
    summary: 'Change a user\'s role or set a new password (their sessions end; a new password also revokes their tokens unless keepTokens)',
    body: UserPatch,
    async handler({ req, body, params, actor, core }) {
      const now = core.clock.now();
      if (body.role) await core.inst.accounts.setRole(params.name!, body.role, now);
      const reset = body.password ? await core.inst.accounts.setPassword(params.name!, body.password, now, body.mustChangePassword ?? true, { keepTokens: !!body.keepTokens }) : undefined;
      await core.inst.accounts.endSessionsOf(params.name!);
      await core.audit(actor, 'user.update', params.name!, req.ip, 'ok', { ...(body.role ? { role: body.role } : {}), ...(reset ? { password: 'reset', tokensRevoked: reset.tokensRevoked } : {}) });
      const u = await core.inst.accounts.find(params.name!);
      if (!u) throw new AppError('NOT_FOUND', `No user "${params.name}".`);
      return u;
    },
  });

  t.add({
    method: 'DELETE',
    url: '/api/users/:name',
    response: R.Ack('removed'),
    access: 'admin',
    tag: 'users',
    summary: 'Remove a user (their sessions and tokens end)',
    async handler({ req, params, actor, core }) {
      await core.inst.accounts.remove(params.name!);
      await core.audit(actor, 'user.remove', params.name!, req.ip, 'ok');
      return { removed: params.name };
    },
  });

  t.add({
    method: 'GET',
    url: '/api/tokens',
    response: z.array(R.Token),
    access: 'viewer',
    tag: 'tokens',
    summary: 'List API tokens (yours; an admin sees all)',
    handler: async ({ principal, core }) => core.inst.accounts.tokens(principal!.role === 'admin' ? undefined : principal!.user),
  });

  t.add({
    method: 'POST',
    url: '/api/tokens',
    response: R.TokenCreated,
    access: 'viewer',
    tag: 'tokens',
    summary: 'Create an API token for yourself; the token is shown once',
    body: TokenBody,
    status: 201,
    async handler({ req, body, principal, actor, core }) {
      const now = core.clock.now();
      const expires = body.expiresInDays ? new Date(now.getTime() + body.expiresInDays * 86400e3).toISOString() : null;
      const r = await core.inst.accounts.createToken(body.name, principal!.user, body.role ?? principal!.role, now, expires);
      await core.audit(actor, 'token.create', `${r.info.name} (${r.info.id})`, req.ip, 'ok', { role: r.info.role });
      return { token: r.token, ...r.info };
    },
  });

  t.add({
    method: 'DELETE',
    url: '/api/tokens/:id',
    response: R.Token,
    access: 'viewer',
    tag: 'tokens',
    summary: 'Revoke a token (yours; an admin may revoke any)',
    async handler({ req, params, principal, actor, core }) {
      const r = await core.inst.accounts.revokeToken(params.id!, core.clock.now(), principal!.role === 'admin' ? undefined : principal!.user);
      await core.audit(actor, 'token.revoke', `${r.name} (${r.id})`, req.ip, 'ok');
      return r;
    },
  });
}
