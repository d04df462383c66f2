import { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { AppError, localActor, registerSecret, systemClock } from '../../kernel/index.js';
import { ROLES, type Role, type TokenInfo, type User } from '../../operations/index.js';
import type { AuditEntry } from '../../operations/index.js';
import { table } from '../render.js';
import { output, parseCount, withInstance } from '../context.js';
import { remote } from '../remote.js';

/**
 * A new password: from --password-file, STRONGBOX_NEW_PASSWORD, or a prompt on a terminal.
 * The program's own --password-file (the repository's) shares the name and is parsed wherever
 * it stands, so a file given after "user add" arrives there: these commands need no repository
 * password, so it is this one.
 */
async function newPassword(o: { passwordFile?: string }, cmd: Command): Promise<string> {
  const file = o.passwordFile ?? (cmd.optsWithGlobals() as { passwordFile?: string }).passwordFile;
  let pw = file ? readFileSync(file, 'utf8').replace(/\r?\n$/, '') : process.env.STRONGBOX_NEW_PASSWORD;
  if (!pw) {
    if (!process.stdin.isTTY) throw new AppError('PASSWORD_REQUIRED', 'Give the new password with --password-file FILE or STRONGBOX_NEW_PASSWORD (no terminal to ask on).');
    const { promptHidden: prompt } = await import('../password.js');
    pw = await prompt('New password: ');
    if ((await prompt('Again: ')) !== pw) throw new AppError('USAGE', 'The two passwords differ.');
  }
  registerSecret(pw);
  return pw;
}

function role(r: string): Role {
  if (!(ROLES as readonly string[]).includes(r)) throw new AppError('USAGE', `"${r}" is not a role: admin, operator or viewer.`);
  return r as Role;
}

/**
 * Users and API tokens: through the server with --server, or straight in this
 * machine's catalog (how an operator on the server's host recovers a lost
 * admin password or makes the first token for scripts).
 */
export function userCommand(): Command {
  const user = new Command('user').description('Accounts of the server: admin, operator (snapshots, restores when allowed), viewer (read only)');

  user
    .command('list')
    .description('List users')
    .action(async (_o: unknown, cmd: Command) => {
      const out = output(cmd);
      const c = remote(cmd);
      const list = c ? await c.get<User[]>('/api/users') : await withInstance((i) => i.accounts.list());
      if (out.json) return out.data(list);
      out.out(table(list.map((u) => [u.name, u.role, u.mustChangePassword ? 'must change password' : '', u.createdAt.slice(0, 19)]), ['Name', 'Role', 'Note', 'Created']));
    });

  user
    .command('add <name>')
    .description('Add a user (they choose a new password at first sign-in unless --no-must-change)')
    .requiredOption('--role <role>', 'admin, operator or viewer', role)
    .option('--password-file <file>', 'the initial password (or STRONGBOX_NEW_PASSWORD, or a prompt)')
    .option('--no-must-change', 'do not ask for a new password at first sign-in')
    .action(async (name: string, o: { role: Role; passwordFile?: string; mustChange: boolean }, cmd: Command) => {
      const out = output(cmd);
      const password = await newPassword(o, cmd);
      const c = remote(cmd);
      const u = c ? await c.request<User>('POST', '/api/users', { name, role: o.role, password, mustChangePassword: o.mustChange }) : await withInstance(async (i) => {
        const added = await i.accounts.add(name, o.role, password, o.mustChange, systemClock.now());
        await i.audit.record({ time: systemClock.now().toISOString(), actor: localActor(), action: 'user.add', target: name, ip: null, outcome: 'ok', details: { role: o.role } });
        return added;
      });
      if (out.json) return out.data(u);
      out.out(`Added user ${u.name} (${u.role})`);
    });

  user
    .command('set-role <name> <role>')
    .description('Change a user\'s role (their sessions end)')
    .action(async (name: string, r: string, _o: unknown, cmd: Command) => {
      const out = output(cmd);
      const c = remote(cmd);
      if (c) await c.request('PATCH', `/api/users/${encodeURIComponent(name)}`, { role: role(r) });
      else await withInstance((i) => i.accounts.setRole(name, role(r), systemClock.now()));
      if (out.json) out.data({ name, role: r });
      else out.out(`${name} is now ${r}`);
    });

  user
    .command('passwd <name>')
    .description('Set a user\'s password (they must change it at next sign-in unless --no-must-change); works locally to recover a lost admin password')
    .option('--password-file <file>', 'the new password (or STRONGBOX_NEW_PASSWORD, or a prompt)')
    .option('--no-must-change', 'do not ask for a new password at next sign-in')
    .option('--keep-tokens', 'keep the user\'s API tokens (by default a new password revokes them, and always ends their sessions)')
    .action(async (name: string, o: { passwordFile?: string; mustChange: boolean; keepTokens?: boolean }, cmd: Command) => {
      const out = output(cmd);
      const password = await newPassword(o, cmd);
      const c = remote(cmd);
      if (c) await c.request('PATCH', `/api/users/${encodeURIComponent(name)}`, { password, mustChangePassword: o.mustChange, ...(o.keepTokens ? { keepTokens: true } : {}) });
      else
        await withInstance(async (i) => {
          const r = await i.accounts.setPassword(name, password, systemClock.now(), o.mustChange, { keepTokens: !!o.keepTokens });
          await i.audit.record({ time: systemClock.now().toISOString(), actor: localActor(), action: 'user.password-reset', target: name, ip: null, outcome: 'ok', details: { tokensRevoked: r.tokensRevoked } });
        });
      if (out.json) out.data({ name, passwordSet: true });
      else out.out(`Password of ${name} set${o.mustChange ? '; they choose a new one at next sign-in' : ''}`);
    });

  user
    .command('remove <name>')
    .description('Remove a user (their sessions and tokens end; the last admin cannot be removed)')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      const out = output(cmd);
      const c = remote(cmd);
      if (c) await c.request('DELETE', `/api/users/${encodeURIComponent(name)}`);
      else await withInstance((i) => i.accounts.remove(name));
      if (out.json) out.data({ removed: name });
      else out.out(`Removed user ${name}`);
    });
  return user;
}

export function tokenCommand(): Command {
  const tok = new Command('token').description('API tokens for scripts and the remote CLI (a token never has more rights than its user)');

  tok
    .command('create <name>')
    .description('Create a token; it is printed once')
    .option('--role <role>', 'admin, operator or viewer (default: the user\'s role)', role)
    .option('--user <name>', 'locally: whose token (default admin)', 'admin')
    .option('--expires <days>', 'expire after this many days', parseCount('--expires'))
    .action(async (name: string, o: { role?: Role; user: string; expires?: number }, cmd: Command) => {
      const out = output(cmd);
      const c = remote(cmd);
      let r: TokenInfo & { token: string };
      if (c) r = await c.request('POST', '/api/tokens', { name, ...(o.role ? { role: o.role } : {}), ...(o.expires ? { expiresInDays: o.expires } : {}) });
      else
        r = await withInstance(async (i) => {
          const u = (await i.accounts.find(o.user)) ?? (() => {
            throw new AppError('NOT_FOUND', `No user "${o.user}" here. Start "strongbox serve" once to create the admin, or add one with "strongbox user add".`);
          })();
          const now = systemClock.now();
          const made = await i.accounts.createToken(name, u.name, o.role ?? u.role, now, o.expires ? new Date(now.getTime() + o.expires * 86400e3).toISOString() : null);
          await i.audit.record({ time: now.toISOString(), actor: localActor(), action: 'token.create', target: `${name} (${made.info.id})`, ip: null, outcome: 'ok', details: { user: u.name, role: made.info.role } });
          return { ...made.info, token: made.token };
        });
      if (out.json) return out.data(r);
      out.err(`Token "${r.name}" for ${r.user} (${r.role})${r.expiresAt ? `, expires ${r.expiresAt}` : ''}. It is shown only now:`);
      out.out(r.token);
    });

  tok
    .command('list')
    .description('List tokens (never their secrets)')
    .action(async (_o: unknown, cmd: Command) => {
      const out = output(cmd);
      const c = remote(cmd);
      const list = c ? await c.get<TokenInfo[]>('/api/tokens') : await withInstance((i) => i.accounts.tokens());
      if (out.json) return out.data(list);
      out.out(table(list.map((t) => [t.id, t.name, t.user, t.role, t.createdAt.slice(0, 19), t.lastUsedAt?.slice(0, 19) ?? '-', t.revokedAt ? `revoked ${t.revokedAt.slice(0, 10)}` : t.expiresAt ? `expires ${t.expiresAt.slice(0, 10)}` : 'active']), ['ID', 'Name', 'User', 'Role', 'Created', 'Last used', 'State']));
    });

  tok
    .command('revoke <id-or-name>')
    .description('Revoke a token at once')
    .action(async (id: string, _o: unknown, cmd: Command) => {
      const out = output(cmd);
      const c = remote(cmd);
      const r = c ? await c.request<TokenInfo>('DELETE', `/api/tokens/${encodeURIComponent(id)}`) : await withInstance((i) => i.accounts.revokeToken(id, systemClock.now()));
      if (out.json) return out.data(r);
      out.out(`Revoked token ${r.name} (${r.id})`);
    });
  return tok;
}

export function auditCommand(): Command {
  return new Command('audit')
    .description('The audit log: who did what, when, from where, and how it ended (newest first)')
    .option('--actor <name>', 'only this actor')
    .option('--action <prefix>', 'only actions starting so (auth., snapshot., user., …)')
    .option('--since <time>', 'only entries at or after this ISO time')
    .option('-n, --limit <n>', 'how many', parseCount('--limit'), 50)
    .action(async (o: { actor?: string; action?: string; since?: string; limit: number }, cmd: Command) => {
      const out = output(cmd);
      const c = remote(cmd);
      const q = { ...(o.actor ? { actor: o.actor } : {}), ...(o.action ? { action: o.action } : {}), ...(o.since ? { since: o.since } : {}), limit: o.limit };
      const list = c ? await c.get<AuditEntry[]>(`/api/audit?${new URLSearchParams(Object.entries(q).map(([k, v]): [string, string] => [k, String(v)]))}`) : await withInstance((i) => i.audit.list(q));
      if (out.json) return out.data(list);
      out.out(table(list.map((e) => [e.time.replace('T', ' ').slice(0, 19), e.actor, e.action, e.target ?? '-', e.ip ?? '-', e.outcome]), ['Time (UTC)', 'Actor', 'Action', 'Target', 'From', 'Outcome']));
    });
}
