import { createHash, randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { AppError } from '../kernel/index.js';
import type { Catalog } from './database.js';

export const ROLES = ['admin', 'operator', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

export interface User {
  name: string;
  role: Role;
  mustChangePassword: boolean;
  createdAt: string;
}

/** Accounts in a full snapshot (docs/FORMAT.md, instance state format 2). */
export interface PortableAccounts {
  users: { name: string; role: Role; passwordHash: string; mustChangePassword: boolean; createdAt: string }[];
  tokens: { id: string; name: string; user: string; role: Role; secretHash: string; createdAt: string; expiresAt: string | null; revokedAt: string | null }[];
}

export interface TokenInfo {
  id: string;
  name: string;
  user: string;
  role: Role;
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

export interface Principal {
  user: string;
  role: Role;
  /** How it authenticated: a session (console) or a token (scripts). */
  via: 'session' | 'token';
  token?: string;
  csrf?: string;
  mustChangePassword?: boolean;
}

const SCRYPT = { N: 1 << 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };

function scrypt(password: string, salt: Buffer, opts: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => scryptCb(password, salt, 32, opts, (err, key) => (err ? reject(err) : resolve(key))));
}

/** scrypt (N=2^15, r=8, p=1): about 100 ms a try, in a string that names its parameters. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, SCRYPT);
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [alg, n, r, p, salt, hash] = stored.split('$');
  if (alg !== 'scrypt' || !salt || !hash) return false;
  const key = await scrypt(password, Buffer.from(salt, 'base64'), { N: Number(n), r: Number(r), p: Number(p), maxmem: SCRYPT.maxmem });
  const want = Buffer.from(hash, 'base64');
  return want.length === key.length && timingSafeEqual(want, key);
}

export function checkPasswordStrength(pw: string): void {
  if (pw.length < 10) throw new AppError('INVALID_ARGUMENT', 'A password needs at least 10 characters.');
}

/** The lesser of two roles (admin > operator > viewer). */
export function lowerRole(a: Role, b: Role): Role {
  return ROLES.indexOf(a) >= ROLES.indexOf(b) ? a : b;
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** Users, console sessions and API tokens. Secrets are kept only as hashes. */
export class AccountStore {
  private lastUsedWritten = new Map<string, number>();

  constructor(private readonly db: Catalog) {}

  /** Users and API tokens as a full snapshot carries them: roles and hashes, never a password or a token. Sessions do not travel. */
  async exportRows(): Promise<PortableAccounts> {
    const users = (await this.db.selectFrom('users').selectAll().orderBy('name').execute()).map((r) => ({ name: r.name, role: r.role as Role, passwordHash: r.password_hash, mustChangePassword: r.must_change_password === 1, createdAt: r.created_at }));
    const tokens = (await this.db.selectFrom('tokens').selectAll().orderBy('created_at').execute()).map((r) => ({ id: r.id, name: r.name, user: r.user_name, role: r.role as Role, secretHash: r.secret_hash, createdAt: r.created_at, expiresAt: r.expires_at, revokedAt: r.revoked_at }));
    return { users, tokens };
  }

  /** Adds the users (by name) and tokens (by id) this catalog lacks; with apply false, only says which. */
  async importRows(r: PortableAccounts, apply: boolean, now: Date): Promise<{ users: string[]; tokens: string[]; kept: string[] }> {
    const out = { users: [] as string[], tokens: [] as string[], kept: [] as string[] };
    const have = new Set((await this.list()).map((u) => u.name));
    for (const u of r.users) {
      if (have.has(u.name)) {
        out.kept.push(u.name);
        continue;
      }
      if (!/^scrypt\$/.test(u.passwordHash) || !(ROLES as readonly string[]).includes(u.role)) continue;
      if (apply) await this.db.insertInto('users').values({ name: u.name, role: u.role, password_hash: u.passwordHash, must_change_password: u.mustChangePassword ? 1 : 0, created_at: u.createdAt, updated_at: now.toISOString() }).execute();
      out.users.push(u.name);
    }
    const users = new Set([...have, ...out.users]);
    const tokens = new Set((await this.db.selectFrom('tokens').select('id').execute()).map((t) => t.id));
    for (const t of r.tokens) {
      if (tokens.has(t.id) || !users.has(t.user) || !/^[0-9a-f]{64}$/.test(t.secretHash)) continue;
      if (apply) await this.db.insertInto('tokens').values({ id: t.id, name: t.name, user_name: t.user, role: t.role, secret_hash: t.secretHash, created_at: t.createdAt, expires_at: t.expiresAt, last_used_at: null, revoked_at: t.revokedAt }).execute();
      out.tokens.push(`${t.name} of ${t.user}`);
    }
    return out;
  }

  async count(): Promise<number> {
    const r = await this.db.selectFrom('users').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst();
    return Number(r?.n ?? 0);
  }

  async list(): Promise<User[]> {
    return (await this.db.selectFrom('users').selectAll().orderBy('name').execute()).map((r) => ({ name: r.name, role: r.role as Role, mustChangePassword: r.must_change_password === 1, createdAt: r.created_at }));
  }

  async find(name: string): Promise<User | undefined> {
    return (await this.list()).find((u) => u.name === name);
  }

  async add(name: string, role: Role, password: string, mustChange: boolean, now: Date): Promise<User> {
    if (!/^[a-zA-Z0-9][a-zA-Z0-9._@-]{0,63}$/.test(name)) throw new AppError('INVALID_ARGUMENT', `"${name}" is not a user name: letters, digits, ".", "_", "@", "-", at most 64.`);
    if (!ROLES.includes(role)) throw new AppError('INVALID_ARGUMENT', `"${role}" is not a role: admin, operator or viewer.`);
    if (await this.find(name)) throw new AppError('CONFLICT', `User "${name}" exists already.`);
    checkPasswordStrength(password);
    const t = now.toISOString();
    await this.db.insertInto('users').values({ name, role, password_hash: await hashPassword(password), must_change_password: mustChange ? 1 : 0, created_at: t, updated_at: t }).execute();
    return { name, role, mustChangePassword: mustChange, createdAt: t };
  }

  async setRole(name: string, role: Role, now: Date): Promise<void> {
    if (!ROLES.includes(role)) throw new AppError('INVALID_ARGUMENT', `"${role}" is not a role: admin, operator or viewer.`);
    await this.mustExist(name);
    if (role !== 'admin') await this.keepOneAdmin(name);
    await this.db.updateTable('users').set({ role, updated_at: now.toISOString() }).where('name', '=', name).execute();
    await this.db.deleteFrom('sessions').where('user_name', '=', name).execute();
  }

  /**
   * Sets a password and ends every session of the user; their API tokens are
   * revoked too unless `keepTokens` (an admin's explicit choice). Returns how
   * many tokens were revoked.
   */
  async setPassword(name: string, password: string, now: Date, mustChange = false, o: { keepTokens?: boolean } = {}): Promise<{ tokensRevoked: number }> {
    await this.mustExist(name);
    checkPasswordStrength(password);
    await this.db.updateTable('users').set({ password_hash: await hashPassword(password), must_change_password: mustChange ? 1 : 0, updated_at: now.toISOString() }).where('name', '=', name).execute();
    await this.endSessionsOf(name);
    if (o.keepTokens) return { tokensRevoked: 0 };
    const r = await this.db.updateTable('tokens').set({ revoked_at: now.toISOString() }).where('user_name', '=', name).where('revoked_at', 'is', null).executeTakeFirst();
    return { tokensRevoked: Number(r.numUpdatedRows ?? 0) };
  }

  async remove(name: string): Promise<void> {
    await this.mustExist(name);
    await this.keepOneAdmin(name);
    await this.db.deleteFrom('users').where('name', '=', name).execute();
  }

  /** The user, when the password is right (the same work is done for unknown names). */
  async authenticate(name: string, password: string): Promise<User | undefined> {
    const r = await this.db.selectFrom('users').selectAll().where('name', '=', name).executeTakeFirst();
    const ok = await verifyPassword(password, r?.password_hash ?? (await dummyHash()));
    if (!r || !ok) return undefined;
    return { name: r.name, role: r.role as Role, mustChangePassword: r.must_change_password === 1, createdAt: r.created_at };
  }

  async createSession(user: string, ip: string, now: Date, ttlMs: number): Promise<{ secret: string; csrf: string; expiresAt: string }> {
    const secret = randomBytes(32).toString('base64url');
    const csrf = randomBytes(24).toString('base64url');
    const expiresAt = new Date(now.getTime() + ttlMs).toISOString();
    await this.db.insertInto('sessions').values({ id_hash: sha256(secret), user_name: user, csrf, created_at: now.toISOString(), expires_at: expiresAt, ip }).execute();
    await this.db.deleteFrom('sessions').where('expires_at', '<', now.toISOString()).execute();
    return { secret, csrf, expiresAt };
  }

  async session(secret: string, now: Date): Promise<Principal | undefined> {
    const r = await this.db
      .selectFrom('sessions')
      .innerJoin('users', 'users.name', 'sessions.user_name')
      .select(['sessions.user_name', 'sessions.csrf', 'sessions.expires_at', 'users.role', 'users.must_change_password'])
      .where('sessions.id_hash', '=', sha256(secret))
      .executeTakeFirst();
    if (!r || r.expires_at < now.toISOString()) return undefined;
    return { user: r.user_name, role: r.role as Role, via: 'session', csrf: r.csrf, mustChangePassword: r.must_change_password === 1 };
  }

  async endSession(secret: string): Promise<void> {
    await this.db.deleteFrom('sessions').where('id_hash', '=', sha256(secret)).execute();
  }

  async endSessionsOf(user: string): Promise<void> {
    await this.db.deleteFrom('sessions').where('user_name', '=', user).execute();
  }

  /** A new token: returned once ("sbt_ID_SECRET"); only its hash is kept. Its role is at most its user's. */
  async createToken(name: string, user: string, role: Role, now: Date, expiresAt: string | null): Promise<{ token: string; info: TokenInfo }> {
    const u = await this.mustExist(user);
    if (ROLES.indexOf(role) < ROLES.indexOf(u.role)) throw new AppError('FORBIDDEN', `A token cannot have more rights than its user: ${user} is ${u.role}, the token asked for ${role}.`);
    const id = randomBytes(6).toString('hex');
    const secret = randomBytes(24).toString('base64url');
    const info: TokenInfo = { id, name, user, role, createdAt: now.toISOString(), expiresAt, lastUsedAt: null, revokedAt: null };
    await this.db.insertInto('tokens').values({ id, name, user_name: user, role, secret_hash: sha256(secret), created_at: info.createdAt, expires_at: expiresAt, last_used_at: null, revoked_at: null }).execute();
    return { token: `sbt_${id}_${secret}`, info };
  }

  async tokens(user?: string): Promise<TokenInfo[]> {
    let q = this.db.selectFrom('tokens').selectAll();
    if (user) q = q.where('user_name', '=', user);
    return (await q.orderBy('created_at').execute()).map((r) => ({ id: r.id, name: r.name, user: r.user_name, role: r.role as Role, createdAt: r.created_at, expiresAt: r.expires_at, lastUsedAt: r.last_used_at, revokedAt: r.revoked_at }));
  }

  async revokeToken(idOrName: string, now: Date, user?: string): Promise<TokenInfo> {
    const all = (await this.tokens(user)).filter((t) => (t.id === idOrName || t.name === idOrName) && !t.revokedAt);
    if (all.length === 0) throw new AppError('NOT_FOUND', `No active token "${idOrName}". "strongbox token list" shows them.`);
    if (all.length > 1) throw new AppError('AMBIGUOUS_ID', `Several tokens are named "${idOrName}"; revoke one by its id (${all.map((t) => t.id).join(', ')}).`);
    await this.db.updateTable('tokens').set({ revoked_at: now.toISOString() }).where('id', '=', all[0]!.id).execute();
    return { ...all[0]!, revokedAt: now.toISOString() };
  }

  async verifyToken(token: string, now: Date): Promise<Principal | undefined> {
    const m = /^sbt_([0-9a-f]{12})_([A-Za-z0-9_-]{32})$/.exec(token);
    if (!m) return undefined;
    const r = await this.db
      .selectFrom('tokens')
      .innerJoin('users', 'users.name', 'tokens.user_name')
      .select(['tokens.id', 'tokens.name', 'tokens.user_name', 'tokens.role', 'tokens.secret_hash', 'tokens.revoked_at', 'tokens.expires_at', 'users.role as user_role'])
      .where('tokens.id', '=', m[1]!)
      .executeTakeFirst();
    if (!r || r.revoked_at || (r.expires_at && r.expires_at < now.toISOString())) return undefined;
    const a = Buffer.from(sha256(m[2]!));
    const b = Buffer.from(r.secret_hash);
    if (a.length !== b.length || !timingSafeEqual(a, b)) return undefined;
    // "Last used" to the minute: a durable write on every request would cost an fsync each.
    const last = this.lastUsedWritten.get(r.id) ?? 0;
    if (now.getTime() - last >= 60e3) {
      this.lastUsedWritten.set(r.id, now.getTime());
      await this.db.updateTable('tokens').set({ last_used_at: now.toISOString() }).where('id', '=', r.id).execute();
    }
    // Rights are current: a token never has more than its user has now (a demoted user's tokens are demoted with them).
    return { user: r.user_name, role: lowerRole(r.role as Role, r.user_role as Role), via: 'token', token: r.name };
  }

  private async mustExist(name: string): Promise<User> {
    const u = await this.find(name);
    if (!u) throw new AppError('NOT_FOUND', `No user "${name}". "strongbox user list" shows the users.`);
    return u;
  }

  private async keepOneAdmin(name: string): Promise<void> {
    const admins = (await this.list()).filter((u) => u.role === 'admin');
    if (admins.length === 1 && admins[0]!.name === name) throw new AppError('CONFLICT', `"${name}" is the last admin; make another user admin first.`);
  }
}

let dummy: Promise<string> | undefined;
function dummyHash(): Promise<string> {
  dummy ??= hashPassword(randomBytes(16).toString('hex'));
  return dummy;
}
