import { Command } from 'commander';
import { resolve as resolvePath } from 'node:path';
import { readFileSync } from 'node:fs';
import { AppError } from '../../kernel/index.js';
import type { StoreSecret } from '../../operations/index.js';
import { getPassword } from '../password.js';
import { table } from '../render.js';
import { answer, globals, rendered, withOperations } from '../context.js';

/** Reads the store secret given on the command line now; the service seals it. */
function storeSecret(o: { accessKeyId?: string; secretFromEnv?: string; secretFromFile?: string; sas?: boolean; sshKeyFile?: string }): StoreSecret {
  if (o.secretFromEnv && o.secretFromFile) throw new AppError('USAGE', 'Give either --secret-from-env or --secret-from-file, not both.');
  let secret: string | undefined;
  if (o.sshKeyFile) secret = readFileSync(o.sshKeyFile, 'utf8');
  else if (o.secretFromFile) secret = readFileSync(o.secretFromFile, 'utf8').replace(/\r?\n$/, '');
  else if (o.secretFromEnv) {
    secret = process.env[o.secretFromEnv];
    if (!secret) throw new AppError('USAGE', `--secret-from-env ${o.secretFromEnv}: the variable is not set.`);
  }
  return { ...(o.accessKeyId ? { accessKeyId: o.accessKeyId } : {}), ...(secret !== undefined ? { secret } : {}), sas: !!o.sas, sshKey: !!o.sshKeyFile };
}

export function destinationCommand(): Command {
  const dest = new Command('destination').description('Name the places snapshots are stored, with how to find their passwords');

  dest
    .command('add <name> <location>')
    .description('Add a destination (a local or mounted directory, or an S3 bucket: s3://BUCKET/PREFIX?endpoint=…) and validate it')
    .option('--init', 'create a new repository there first (a repository already there is connected instead, never initialised over)')
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
    .action((name: string, location: string, o: { init?: boolean; default?: boolean; passwordFromEnv?: string; passwordFromFile?: string; skipValidation?: boolean; accessKeyId?: string; secretFromEnv?: string; secretFromFile?: string; sas?: boolean; sshKeyFile?: string }, cmd: Command) =>
      withOperations(cmd, async (ops, out) => {
        const isStore = /^(s3|azure|sftp):\/\//.test(location);
        // A path is this machine's: through a server it is sent as given, for the server's machine.
        const where = isStore || ops.remote ? location : resolvePath(location);
        if (o.passwordFromEnv && o.passwordFromFile) throw new AppError('USAGE', 'Give either --password-from-env or --password-from-file, not both.');
        const password = o.passwordFromEnv ? { env: o.passwordFromEnv } : o.passwordFromFile ? { file: resolvePath(o.passwordFromFile) } : { plain: await getPassword(globals(cmd), { confirm: !!o.init }) };
        const r = await ops.addDestination({ name, location: where, password, init: !!o.init, makeDefault: !!o.default, skipValidation: !!o.skipValidation, store: storeSecret(o) });
        if (out.json) return out.data(r);
        out.out(`Added destination "${name}" at ${where}${r.isDefault ? ' (default)' : ''}${ops.remote ? ` on ${ops.place}` : ''}`);
        if (r.validation) out.out(`validated: ${r.validation.steps.join(', ')}; repository ${r.validation.repositoryId.slice(0, 8)} with ${r.validation.snapshots} snapshot(s)`);
      }),
    );

  dest
    .command('list')
    .description('List destinations')
    .action(
      rendered(
        (ops) => ops.listDestinations(),
        (out, all) => {
          if (all.length === 0) return out.out('No destinations yet. Add one with "strongbox destination add NAME LOCATION --init".');
          out.out(table(all.map((d) => [(d.isDefault ? '*' : ' ') + d.name, d.kind, d.location, d.password]), [' Name', 'Kind', 'Location', 'Password']));
        },
      ),
    );

  dest
    .command('show <name>')
    .description('Show one destination')
    .action(rendered((ops, name: string) => ops.showDestination(name), (out, d) => out.out([`name      ${d.name}${d.isDefault ? ' (default)' : ''}`, `kind      ${d.kind}`, `location  ${d.location}`, `password  ${d.password}`, `store     ${d.credentials}`, `added     ${d.createdAt}`].join('\n'))));

  dest
    .command('validate <name>')
    .description('Open the repository and write, read back and delete a test object')
    .action(answer((ops, name: string) => ops.validateDestination(name), (r, name) => `"${name}" works: ${r.steps.join(', ')}; repository ${r.repositoryId.slice(0, 8)} with ${r.snapshots} snapshot(s)`));

  dest
    .command('default <name>')
    .description('Make a destination the default')
    .action(answer((ops, name: string) => ops.setDefaultDestination(name), (_r, name) => `"${name}" is now the default destination`));

  dest
    .command('remove <name>')
    .description('Forget a destination (its repository and data are left untouched)')
    .action(answer((ops, name: string) => ops.removeDestination(name), (_r, name) => `Removed destination "${name}" (the repository at its location was not touched)`));

  return dest;
}
