import { Command } from 'commander';
import { resolve as resolvePath } from 'node:path';
import { readFileSync } from 'node:fs';
import { AppError, registerSecret } from '../../kernel/index.js';
import { describePasswordRef, initRepository, openRepository, type BackendCredentials } from '../../app/index.js';
import type { PasswordRef, StoredCredentials } from '../../catalog/index.js';
import type { Repository } from '../../repo/index.js';
import { getPassword } from '../password.js';
import { table } from '../render.js';
import { globals, output, withInstance } from '../context.js';

/** Reads the store secret given on the command line now and seals it; the catalog never holds it in plain text. */
function storeCredentials(
  kind: 'local' | 's3' | 'azure' | 'sftp',
  o: { accessKeyId?: string; secretFromEnv?: string; secretFromFile?: string; sas?: boolean; sshKeyFile?: string },
  sealSecret: (plain: string) => PasswordRef,
): StoredCredentials | undefined {
  if (o.secretFromEnv && o.secretFromFile) throw new AppError('USAGE', 'Give either --secret-from-env or --secret-from-file, not both.');
  const read = (): string | undefined => {
    if (o.sshKeyFile) return readFileSync(o.sshKeyFile, 'utf8');
    if (o.secretFromFile) return readFileSync(o.secretFromFile, 'utf8').replace(/\r?\n$/, '');
    if (o.secretFromEnv) {
      const v = process.env[o.secretFromEnv];
      if (!v) throw new AppError('USAGE', `--secret-from-env ${o.secretFromEnv}: the variable is not set.`);
      return v;
    }
    return undefined;
  };
  const secret = read();
  if (secret === undefined) {
    if (o.accessKeyId) throw new AppError('USAGE', '--access-key-id needs its secret: --secret-from-env VAR or --secret-from-file FILE.');
    return undefined;
  }
  registerSecret(secret);
  const kinds: Record<string, StoredCredentials['secretKind']> = {
    s3: 's3-secret-access-key',
    azure: o.sas ? 'azure-sas' : 'azure-account-key',
    sftp: o.sshKeyFile ? 'sftp-private-key' : 'sftp-password',
  };
  const secretKind = kinds[kind];
  if (!secretKind) throw new AppError('USAGE', 'A local destination has no store credentials; drop the --secret-*/--ssh-key-file options.');
  if (kind === 's3' && !o.accessKeyId) throw new AppError('USAGE', 'An S3 secret needs its --access-key-id.');
  return { ...(o.accessKeyId ? { user: o.accessKeyId } : {}), secret: sealSecret(secret), secretKind };
}

function describeCredentials(c: StoredCredentials | undefined): string {
  if (!c?.secret) return 'from the environment';
  return `${c.secretKind}${c.user ? ` for ${c.user}` : ''}, ${describePasswordRef(c.secret)}`;
}

interface Validation {
  repositoryId: string;
  snapshots: number;
  steps: string[];
}

/**
 * Proves a destination works end to end: the repository opens with the password,
 * and a lock object can be written, read back (listed and decrypted) and deleted.
 */
async function validate(location: string, password: string, credentials: BackendCredentials = {}): Promise<Validation> {
  const steps: string[] = [];
  // Each step says what it proves; a failure names the step and keeps the error's code (exit status).
  const step = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    try {
      const r = await fn();
      steps.push(name);
      return r;
    } catch (err) {
      const e = err instanceof AppError ? err : new AppError('STORAGE_UNAVAILABLE', String(err), { cause: err });
      throw new AppError(e.code, `Validation of ${location} failed at "${name}"${steps.length ? ` (after: ${steps.join(', ')})` : ''}: ${e.message}`, { cause: err });
    }
  };
  const repo: Repository = await step('opened the repository with the password', () => openRepository(location, password, { loadIndex: false, credentials }));
  try {
    const lock = await step('wrote a test object (a lock)', () => repo.lock(false));
    const locks = await step('listed it', () => repo.listLocks());
    await step('read it back', async () => {
      if (!locks.some((l) => l.id === lock.id)) throw new AppError('STORAGE_UNAVAILABLE', 'the test object just written is not there (the store is not read-after-write consistent)');
    });
    await step('deleted it', () => lock.release());
    return { repositoryId: repo.config.id, snapshots: (await repo.listNames('snapshots')).length, steps };
  } finally {
    await repo.backend.close();
  }
}

export function destinationCommand(): Command {
  const dest = new Command('destination').description('Name the places snapshots are stored, with how to find their passwords');

  dest
    .command('add <name> <location>')
    .description('Add a destination (a local or mounted directory, or an S3 bucket: s3://BUCKET/PREFIX?endpoint=…) and validate it')
    .option('--init', 'create a new repository there first')
    .option('--default', 'make it the default destination (the first one always is)')
    .option('--password-from-env <var>', 'do not store the password: read it from this environment variable when needed')
    .option('--password-from-file <file>', 'do not store the password: read it from this file when needed')
    .option('--skip-validation', 'add it without opening the repository')
    .option('--access-key-id <id>', 'S3: the access key id to store with the destination (its secret from --secret-from-env/--secret-from-file)')
    .option('--secret-from-env <var>', 'the store\'s secret (S3 secret access key, Azure account key or SAS, SFTP password), read now from this variable and stored sealed')
    .option('--secret-from-file <file>', '… read now from this file and stored sealed')
    .option('--sas', 'Azure: the secret is a SAS token, not the account key')
    .option('--ssh-key-file <file>', 'SFTP: store this private key (sealed) for the destination')
    .addHelpText(
      'after',
      `
Without --password-from-*, the password (from --password-file, STRONGBOX_PASSWORD or a prompt)
is stored in the catalog encrypted with the instance key ($STRONGBOX_HOME/instance.key), never
in plain text. Commands then use the default destination when no --repo is given.

Example:
  strongbox destination add main /mnt/backups/strongbox --init
  strongbox snapshot create --path /srv/app`,
    )
    .action(async (name: string, location: string, o: { init?: boolean; default?: boolean; passwordFromEnv?: string; passwordFromFile?: string; skipValidation?: boolean; accessKeyId?: string; secretFromEnv?: string; secretFromFile?: string; sas?: boolean; sshKeyFile?: string }, cmd: Command) => {
      const out = output(cmd);
      const remote = /^(s3|azure|sftp):\/\//.test(location);
      const abs = remote ? location : resolvePath(location);
      if (o.passwordFromEnv && o.passwordFromFile) throw new AppError('USAGE', 'Give either --password-from-env or --password-from-file, not both.');
      await withInstance(async (inst) => {
        let ref: PasswordRef;
        let password: string;
        if (o.passwordFromEnv) {
          ref = { type: 'env', name: o.passwordFromEnv };
          password = inst.resolvePassword(ref);
        } else if (o.passwordFromFile) {
          ref = { type: 'file', path: resolvePath(o.passwordFromFile) };
          password = inst.resolvePassword(ref);
        } else {
          password = await getPassword(globals(cmd), { confirm: !!o.init });
          ref = inst.sealSecret(password);
        }
        // Refuse a duplicate before touching the location.
        if ((await inst.destinations.list()).some((d) => d.name === name)) {
          throw new AppError('CONFLICT', `A destination named "${name}" already exists; remove it first or choose another name.`);
        }
        const kind = remote ? (location.split(':')[0] as 's3' | 'azure' | 'sftp') : 'local';
        const stored = storeCredentials(kind, o, (plain) => inst.sealSecret(plain));
        const probe = { ...(stored ? { credentials: stored } : {}) };
        const credentials = inst.resolveCredentials({ name, kind, location: abs, password: ref, isDefault: false, createdAt: '', ...probe });
        if (o.init) await (await initRepository(abs, password, { credentials })).backend.close();
        const checked = o.skipValidation ? undefined : await validate(abs, password, credentials);
        const added = await inst.destinations.add({ name, kind, location: abs, password: ref, isDefault: !!o.default, ...probe });
        if (out.json) return out.data({ ...added, password: describePasswordRef(ref), credentials: describeCredentials(added.credentials), validation: checked ?? null });
        out.out(`Added destination "${name}" at ${abs}${added.isDefault ? ' (default)' : ''}`);
        if (checked) out.out(`validated: ${checked.steps.join(', ')}; repository ${checked.repositoryId.slice(0, 8)} with ${checked.snapshots} snapshot(s)`);
      });
    });

  dest
    .command('list')
    .description('List destinations')
    .action(async (_o: unknown, cmd: Command) => {
      const out = output(cmd);
      await withInstance(async (inst) => {
        const all = await inst.destinations.list();
        if (out.json) return out.data(all.map((d) => ({ ...d, password: describePasswordRef(d.password), credentials: describeCredentials(d.credentials) })));
        if (all.length === 0) return out.out('No destinations yet. Add one with "strongbox destination add NAME LOCATION --init".');
        out.out(table(all.map((d) => [(d.isDefault ? '*' : ' ') + d.name, d.kind, d.location, describePasswordRef(d.password)]), [' Name', 'Kind', 'Location', 'Password']));
      });
    });

  dest
    .command('show <name>')
    .description('Show one destination')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      const out = output(cmd);
      await withInstance(async (inst) => {
        const d = await inst.destinations.get(name);
        if (out.json) return out.data({ ...d, password: describePasswordRef(d.password), credentials: describeCredentials(d.credentials) });
        out.out([`name      ${d.name}${d.isDefault ? ' (default)' : ''}`, `kind      ${d.kind}`, `location  ${d.location}`, `password  ${describePasswordRef(d.password)}`, `store     ${describeCredentials(d.credentials)}`, `added     ${d.createdAt}`].join('\n'));
      });
    });

  dest
    .command('validate <name>')
    .description('Open the repository and write, read back and delete a test object')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      const out = output(cmd);
      await withInstance(async (inst) => {
        const d = await inst.destinations.get(name);
        const res = await validate(d.location, inst.resolvePassword(d.password), inst.resolveCredentials(d));
        if (out.json) return out.data({ name, ...res });
        out.out(`"${name}" works: ${res.steps.join(', ')}; repository ${res.repositoryId.slice(0, 8)} with ${res.snapshots} snapshot(s)`);
      });
    });

  dest
    .command('default <name>')
    .description('Make a destination the default')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      const out = output(cmd);
      await withInstance(async (inst) => {
        await inst.destinations.setDefault(name);
        if (out.json) out.data({ default: name });
        else out.out(`"${name}" is now the default destination`);
      });
    });

  dest
    .command('remove <name>')
    .description('Forget a destination (its repository and data are left untouched)')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      const out = output(cmd);
      await withInstance(async (inst) => {
        await inst.destinations.remove(name);
        if (out.json) out.data({ removed: name });
        else out.out(`Removed destination "${name}" (the repository at its location was not touched)`);
      });
    });

  return dest;
}
