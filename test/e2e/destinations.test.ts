import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { test } from 'node:test';
import { instanceCli, listFiles, tmp } from './testing/cli.js';

test('destinations: add with --init, the default is used without --repo, the password is stored sealed', async () => {
  const root = tmp();
  const repoDir = path.join(root, 'backups');
  const cli = instanceCli(root, 'PLAINTEXT-PASSWORD-MARKER');
  const none = cli.run(['snapshot', 'list']);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /destination add/);

  const added = cli.json<{ name: string; isDefault: boolean; validation: { steps: string[] } }>(['destination', 'add', 'main', repoDir, '--init']);
  assert.equal(added.isDefault, true);
  assert.equal(added.validation.steps.length, 5);
  await fs.writeFile(path.join(root, 'file.txt'), 'data');
  // No --repo and no password: the default destination and its stored password are used.
  const plain = instanceCli(root);
  const snap = plain.json<{ id: string }>(['snapshot', 'create', '--path', path.join(root, 'file.txt')]);
  assert.deepEqual(plain.json<{ id: string }[]>(['snapshot', 'list']).map((s) => s.id), [snap.id]);
  assert.match(plain.ok(['destination', 'validate', 'main']), /works: .* 1 snapshot/);

  for (const f of await listFiles(path.join(root, 'home'))) {
    const data = await fs.readFile(path.join(root, 'home', f));
    assert.ok(!data.includes('PLAINTEXT-PASSWORD-MARKER'), `${f} holds the password in plain text`);
  }
  assert.equal(statSync(path.join(root, 'home', 'catalog.sqlite')).mode & 0o777, 0o600);
  assert.equal(statSync(path.join(root, 'home', 'instance.key')).mode & 0o777, 0o600);
  const listed = plain.json<{ name: string; password: string }[]>(['destination', 'list']);
  assert.deepEqual(listed.map((d) => [d.name, d.password]), [['main', 'stored (encrypted with the instance key)']]);
});

test('destinations: bad input changes nothing, passwords by reference, remove leaves the data', async () => {
  const root = tmp();
  const repoDir = path.join(root, 'backups');
  const cli = instanceCli(root, 'right password');
  cli.ok(['destination', 'add', 'main', repoDir, '--init']);

  const wrong = instanceCli(root, 'wrong password').run(['destination', 'add', 'again', repoDir]);
  assert.equal(wrong.code, 12);
  const dup = cli.run(['destination', 'add', 'main', repoDir]);
  assert.equal(dup.code, 1);
  assert.match(dup.stderr, /already exists/);
  const missing = cli.run(['destination', 'add', 'nowhere', path.join(root, 'nothing')]);
  assert.equal(missing.code, 10);
  assert.match(missing.stderr, /--init|repo init/);
  assert.equal(cli.run(['destination', 'add', 'Bad Name', repoDir]).code, 2);
  assert.deepEqual(cli.json<{ name: string }[]>(['destination', 'list']).map((d) => d.name), ['main']);

  // A password by reference is read when needed and never stored.
  const byEnv = instanceCli(root);
  byEnv.ok(['destination', 'add', 'env', repoDir, '--password-from-env', 'MY_PW', '--default'], { MY_PW: 'right password' });
  assert.equal(byEnv.run(['snapshot', 'list'], {}).code, 12, 'the variable is not set now');
  assert.equal(byEnv.run(['snapshot', 'list'], { MY_PW: 'right password' }).code, 0);
  assert.match(byEnv.run(['snapshot', 'list']).stderr, /MY_PW, which is not set/);
  // --destination picks another one.
  assert.equal(byEnv.run(['--destination', 'main', 'snapshot', 'list']).code, 0);

  byEnv.ok(['destination', 'remove', 'main']);
  assert.equal(byEnv.run(['destination', 'show', 'main']).code, 1);
  assert.ok((await listFiles(repoDir)).some((f) => f === 'config'), 'removing a destination must not touch its repository');
});
