import { Command } from 'commander';
import { resolve as resolvePath } from 'node:path';
import { readFileSync } from 'node:fs';
import { AppError } from '../../kernel/index.js';
import { addDestination, describeCredentials, describePasswordRef, validateDestination, type StoreSecret } from '../../app/index.js';
import type { PasswordRef } from '../../catalog/index.js';
import { getPassword } from '../password.js';
import { table } from '../render.js';
import { globals, output, withInstance } from '../context.js';
import { remote } from '../remote.js';

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
      const isStore = /^(s3|azure|sftp):\/\//.test(location);
      const abs = isStore ? location : resolvePath(location);
      if (o.passwordFromEnv && o.passwordFromFile) throw new AppError('USAGE', 'Give either --password-from-env or --password-from-file, not both.');
      const c = remote(cmd);
      if (c) {
        if (o.passwordFromEnv || o.passwordFromFile) throw new AppError('USAGE', 'With --server the password is sent to the server and stored sealed there; --password-from-env/--password-from-file name places on the server\'s machine and are set there.');
        const password = await getPassword(globals(cmd), { confirm: !!o.init });
        const st = storeSecret(o);
        const r = await c.request<Record<string, unknown> & { isDefault: boolean; validation: { steps: string[]; repositoryId: string; snapshots: number } | null }>('POST', '/api/destinations', { name, location, password, init: !!o.init, default: !!o.default, skipValidation: !!o.skipValidation, ...(st.secret || st.accessKeyId ? { store: st } : {}) });
        if (out.json) return out.data(r);
        out.out(`Added destination "${name}" at ${location}${r.isDefault ? ' (default)' : ''} on ${c.baseUrl}`);
        if (r.validation) out.out(`validated: ${r.validation.steps.join(', ')}; repository ${r.validation.repositoryId.slice(0, 8)} with ${r.validation.snapshots} snapshot(s)`);
        return;
      }
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
        const { added, validation: checked } = await addDestination(inst, { name, location: abs, passwordRef: ref, password, init: !!o.init, makeDefault: !!o.default, skipValidation: !!o.skipValidation, store: storeSecret(o) });
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
      const c = remote(cmd);
      type Row = { name: string; kind: string; location: string; isDefault: boolean; password: string; credentials: string };
      await (c ? (fn: (x: undefined) => Promise<void>) => fn(undefined) : withInstance)(async (inst) => {
        const all: Row[] = inst ? (await inst.destinations.list()).map((d) => ({ ...d, password: describePasswordRef(d.password), credentials: describeCredentials(d.credentials) })) : await c!.get<Row[]>('/api/destinations');
        if (out.json) return out.data(all);
        if (all.length === 0) return out.out('No destinations yet. Add one with "strongbox destination add NAME LOCATION --init".');
        out.out(table(all.map((d) => [(d.isDefault ? '*' : ' ') + d.name, d.kind, d.location, d.password]), [' Name', 'Kind', 'Location', 'Password']));
      });
    });

  dest
    .command('show <name>')
    .description('Show one destination')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      const out = output(cmd);
      const c = remote(cmd);
      type Row = { name: string; kind: string; location: string; isDefault: boolean; password: string; credentials: string; createdAt: string };
      const d: Row = c
        ? await c.get<Row>(`/api/destinations/${encodeURIComponent(name)}`)
        : await withInstance(async (inst) => {
            const x = await inst.destinations.get(name);
            return { ...x, password: describePasswordRef(x.password), credentials: describeCredentials(x.credentials) };
          });
      if (out.json) return out.data(d);
      out.out([`name      ${d.name}${d.isDefault ? ' (default)' : ''}`, `kind      ${d.kind}`, `location  ${d.location}`, `password  ${d.password}`, `store     ${d.credentials}`, `added     ${d.createdAt}`].join('\n'));
    });

  dest
    .command('validate <name>')
    .description('Open the repository and write, read back and delete a test object')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      const out = output(cmd);
      const c = remote(cmd);
      await (c ? (fn: (x: undefined) => Promise<void>) => fn(undefined) : withInstance)(async (inst) => {
        const res = inst ? await (async () => {
          const d = await inst.destinations.get(name);
          return validateDestination(d.location, inst.resolvePassword(d.password), inst.resolveCredentials(d));
        })() : await c!.request<{ steps: string[]; repositoryId: string; snapshots: number }>('POST', `/api/destinations/${encodeURIComponent(name)}/validate`);
        if (out.json) return out.data({ name, ...res });
        out.out(`"${name}" works: ${res.steps.join(', ')}; repository ${res.repositoryId.slice(0, 8)} with ${res.snapshots} snapshot(s)`);
      });
    });

  dest
    .command('default <name>')
    .description('Make a destination the default')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      const out = output(cmd);
      const c = remote(cmd);
      await (c ? (fn: (x: undefined) => Promise<void>) => fn(undefined) : withInstance)(async (inst) => {
        if (inst) await inst.destinations.setDefault(name);
        else await c!.request('POST', `/api/destinations/${encodeURIComponent(name)}/default`);
        if (out.json) out.data({ default: name });
        else out.out(`"${name}" is now the default destination`);
      });
    });

  dest
    .command('remove <name>')
    .description('Forget a destination (its repository and data are left untouched)')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      const out = output(cmd);
      const c = remote(cmd);
      await (c ? (fn: (x: undefined) => Promise<void>) => fn(undefined) : withInstance)(async (inst) => {
        if (inst) await inst.destinations.remove(name);
        else await c!.request('DELETE', `/api/destinations/${encodeURIComponent(name)}`);
        if (out.json) out.data({ removed: name });
        else out.out(`Removed destination "${name}" (the repository at its location was not touched)`);
      });
    });

  return dest;
}
