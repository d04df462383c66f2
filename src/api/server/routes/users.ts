import { z } from 'zod';
import * as R from '../../contract/schemas.js';
import { addUser, createToken, listTokens, listUsers, removeUser, revokeToken, updateUser } from '../../../operations/index.js';
import { TokenBody, UserBody, UserPatch } from '../../contract/index.js';
import type { RouteTable } from '../http.js';

export function userRoutes(t: RouteTable): void {
  t.add({ method: 'GET', url: '/api/users',
    response: z.array(R.User), access: 'admin', tag: 'users', summary: 'List users', handler: async ({ core }) => listUsers(core.env) });

  t.add({
    method: 'POST',
    url: '/api/users',
    response: R.User,
    access: 'admin',
    tag: 'users',
    summary: 'Add a user (by default they must change the password at first sign-in)',
    body: UserBody,
    status: 201,
    handler: async ({ body, caller, core }) => addUser(core.env, body, caller),
  });

  t.add({
    method: 'PATCH',
    url: '/api/users/:name',
    response: R.User,
    access: 'admin',
    tag: 'users',
    summary: 'Change a user\'s role or set a new password (their sessions end; a new password also revokes their tokens unless keepTokens)',
    body: UserPatch,
    handler: async ({ body, params, caller, core }) => updateUser(core.env, params.name!, body, caller),
  });

  t.add({
    method: 'DELETE',
    url: '/api/users/:name',
    response: R.Ack('removed'),
    access: 'admin',
    tag: 'users',
    summary: 'Remove a user (their sessions and tokens end)',
    handler: async ({ params, caller, core }) => removeUser(core.env, params.name!, caller),
  });

  t.add({
    method: 'GET',
    url: '/api/tokens',
    response: z.array(R.Token),
    access: 'viewer',
    tag: 'tokens',
    summary: 'List API tokens (yours; an admin sees all)',
    handler: async ({ principal, caller, core }) => listTokens(core.env, caller, principal!.user),
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
    handler: async ({ body, principal, caller, core }) => createToken(core.env, { ...body, user: principal!.user, role: body.role ?? principal!.role }, caller),
  });

  t.add({
    method: 'DELETE',
    url: '/api/tokens/:id',
    response: R.Token,
    access: 'viewer',
    tag: 'tokens',
    summary: 'Revoke a token (yours; an admin may revoke any)',
    handler: async ({ params, principal, caller, core }) => revokeToken(core.env, params.id!, caller, principal!.user),
  });
}
