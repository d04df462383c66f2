import { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { AppError, registerSecret } from '../../kernel/index.js';
import { ROLES, type Role } from '../../operations/index.js';
import { table } from '../render.js';
import { answer, parseCount, rendered, withOperations } from '../context.js';

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
    .action(rendered((ops) => ops.listUsers(), (out, list) => out.out(table(list.map((u) => [u.name, u.role, u.mustChangePassword ? 'must change password' : '', u.createdAt.slice(0, 19)]), ['Name', 'Role', 'Note', 'Created']))));

  user
    .command('add <name>')
    .description('Add a user (they choose a new password at first sign-in unless --no-must-change)')
    .requiredOption('--role <role>', 'admin, operator or viewer', role)
    .option('--password-file <file>', 'the initial password (or STRONGBOX_NEW_PASSWORD, or a prompt)')
    .option('--no-must-change', 'do not ask for a new password at first sign-in')
    .action(answer(async (ops, name: string, o: { role: Role; passwordFile?: string; mustChange: boolean }, cmd: Command) => ops.addUser({ name, role: o.role, password: await newPassword(o, cmd), mustChangePassword: o.mustChange }), (u) => `Added user ${u.name} (${u.role})`));

  user
    .command('set-role <name> <role>')
    .description('Change a user\'s role (their sessions end)')
    .action(answer(async (ops, name: string, r: string) => ({ name, role: (await ops.updateUser(name, { role: role(r) })).role }), (u) => `${u.name} is now ${u.role}`));

  user
    .command('passwd <name>')
    .description('Set a user\'s password (they must change it at next sign-in unless --no-must-change); works locally to recover a lost admin password')
    .option('--password-file <file>', 'the new password (or STRONGBOX_NEW_PASSWORD, or a prompt)')
    .option('--no-must-change', 'do not ask for a new password at next sign-in')
    .option('--keep-tokens', 'keep the user\'s API tokens (by default a new password revokes them, and always ends their sessions)')
    .action(
      answer(
        async (ops, name: string, o: { passwordFile?: string; mustChange: boolean; keepTokens?: boolean }, cmd: Command) => {
          await ops.updateUser(name, { password: await newPassword(o, cmd), mustChangePassword: o.mustChange, ...(o.keepTokens ? { keepTokens: true } : {}) });
          return { name, passwordSet: true, mustChange: o.mustChange };
        },
        (r) => `Password of ${r.name} set${r.mustChange ? '; they choose a new one at next sign-in' : ''}`,
      ),
    );

  user
    .command('remove <name>')
    .description('Remove a user (their sessions and tokens end; the last admin cannot be removed)')
    .action(answer((ops, name: string) => ops.removeUser(name), (_r, name) => `Removed user ${name}`));
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
    .action((name: string, o: { role?: Role; user: string; expires?: number }, cmd: Command) =>
      withOperations(cmd, async (ops, out) => {
        const r = await ops.createToken({ name, user: o.user, role: o.role, expiresInDays: o.expires });
        if (out.json) return out.data(r);
        out.err(`Token "${r.name}" for ${r.user} (${r.role})${r.expiresAt ? `, expires ${r.expiresAt}` : ''}. It is shown only now:`);
        out.out(r.token);
      }),
    );

  tok
    .command('list')
    .description('List tokens (never their secrets)')
    .action(rendered((ops) => ops.listTokens(), (out, list) => out.out(table(list.map((t) => [t.id, t.name, t.user, t.role, t.createdAt.slice(0, 19), t.lastUsedAt?.slice(0, 19) ?? '-', t.revokedAt ? `revoked ${t.revokedAt.slice(0, 10)}` : t.expiresAt ? `expires ${t.expiresAt.slice(0, 10)}` : 'active']), ['ID', 'Name', 'User', 'Role', 'Created', 'Last used', 'State']))));

  tok
    .command('revoke <id-or-name>')
    .description('Revoke a token at once')
    .action(answer((ops, id: string) => ops.revokeToken(id), (r) => `Revoked token ${r.name} (${r.id})`));
  return tok;
}

export function auditCommand(): Command {
  return new Command('audit')
    .description('The audit log: who did what, when, from where, and how it ended (newest first)')
    .option('--actor <name>', 'only this actor')
    .option('--action <prefix>', 'only actions starting so (auth., snapshot., user., …)')
    .option('--since <time>', 'only entries at or after this ISO time')
    .option('-n, --limit <n>', 'how many', parseCount('--limit'), 50)
    .action(rendered((ops, o: { actor?: string; action?: string; since?: string; limit: number }) => ops.auditLog(o), (out, list) => out.out(table(list.map((e) => [e.time.replace('T', ' ').slice(0, 19), e.actor, e.action, e.target ?? '-', e.ip ?? '-', e.outcome]), ['Time (UTC)', 'Actor', 'Action', 'Target', 'From', 'Outcome']))));
}
