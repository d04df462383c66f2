import { AppError } from '../kernel/index.js';
import type { AuditEntry, Role, TokenInfo, User } from '../catalog/index.js';
import { audit, needInstance, type Caller, type Env } from './context.js';

/**
 * The server's accounts — users, API tokens — and the audit log: one home for
 * the API and the CLI (through a server, or on the server's machine to
 * recover a lost admin password or make the first token).
 */

export async function listUsers(env: Env): Promise<User[]> {
  return needInstance(env).accounts.list();
}

export async function addUser(env: Env, r: { name: string; role: Role; password: string; mustChangePassword: boolean }, caller: Caller): Promise<User> {
  const u = await needInstance(env).accounts.add(r.name, r.role, r.password, r.mustChangePassword, env.clock.now());
  await audit(env, caller, 'user.add', u.name, 'ok', { role: u.role });
  return u;
}

/** A new role and/or password: the user's sessions end; a new password also revokes their tokens unless keepTokens. */
export async function updateUser(env: Env, name: string, r: { role?: Role | undefined; password?: string | undefined; mustChangePassword?: boolean | undefined; keepTokens?: boolean | undefined }, caller: Caller): Promise<User> {
  const accounts = needInstance(env).accounts;
  const now = env.clock.now();
  if (r.role) await accounts.setRole(name, r.role, now);
  const reset = r.password ? await accounts.setPassword(name, r.password, now, r.mustChangePassword ?? true, { keepTokens: !!r.keepTokens }) : undefined;
  await accounts.endSessionsOf(name);
  await audit(env, caller, 'user.update', name, 'ok', { ...(r.role ? { role: r.role } : {}), ...(reset ? { password: 'reset', tokensRevoked: reset.tokensRevoked } : {}) });
  const u = await accounts.find(name);
  if (!u) throw new AppError('NOT_FOUND', `No user "${name}".`);
  return u;
}

export async function removeUser(env: Env, name: string, caller: Caller): Promise<{ removed: string }> {
  await needInstance(env).accounts.remove(name);
  await audit(env, caller, 'user.remove', name, 'ok');
  return { removed: name };
}

/** Tokens: an admin sees all, anyone else their own (`user`). */
export async function listTokens(env: Env, caller: Caller, user: string): Promise<TokenInfo[]> {
  return needInstance(env).accounts.tokens(caller.role === 'admin' ? undefined : user);
}

/** A token for `user` (never with more rights than they have); its secret is returned once. */
export async function createToken(env: Env, r: { name: string; user: string; role?: Role | undefined; expiresInDays?: number | undefined }, caller: Caller): Promise<TokenInfo & { token: string }> {
  const accounts = needInstance(env).accounts;
  const u = await accounts.find(r.user);
  if (!u) throw new AppError('NOT_FOUND', `No user "${r.user}" here. Start "strongbox serve" once to create the admin, or add one with "strongbox user add".`);
  const now = env.clock.now();
  const made = await accounts.createToken(r.name, u.name, r.role ?? u.role, now, r.expiresInDays ? new Date(now.getTime() + r.expiresInDays * 86400e3).toISOString() : null);
  await audit(env, caller, 'token.create', `${made.info.name} (${made.info.id})`, 'ok', { user: u.name, role: made.info.role });
  return { ...made.info, token: made.token };
}

/** Revokes a token by id or name: an admin any, anyone else their own (`user`). */
export async function revokeToken(env: Env, idOrName: string, caller: Caller, user: string): Promise<TokenInfo> {
  const r = await needInstance(env).accounts.revokeToken(idOrName, env.clock.now(), caller.role === 'admin' ? undefined : user);
  await audit(env, caller, 'token.revoke', `${r.name} (${r.id})`, 'ok');
  return r;
}

export interface AuditQueryOptions {
  actor?: string | undefined;
  action?: string | undefined;
  since?: string | undefined;
  limit?: number | undefined;
}

export async function auditLog(env: Env, q: AuditQueryOptions): Promise<AuditEntry[]> {
  return needInstance(env).audit.list(q as never);
}
