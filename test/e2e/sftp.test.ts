import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { backendConformance } from '../../src/storage/testing/conformance.js';
import { SftpBackend, parseSftpLocation } from '../../src/storage/sftp/sftp-backend.js';
import { Cli, describeTree, tmp, writeRandom } from './testing/cli.js';
import { startSshd, type Sshd } from './testing/sshd.js';

let sshd: Sshd;
let base: string;
before(async () => {
  sshd = await startSshd();
  base = tmp('sb-sftp-remote-');
  process.env.STRONGBOX_SSH_KNOWN_HOSTS = sshd.knownHosts;
});
const opened: SftpBackend[] = [];
after(async () => {
  // Open SSH connections would keep this test process alive.
  for (const b of opened) await b.close();
  sshd.stop();
});

const loc = (dir: string) => `sftp://${sshd.user}@127.0.0.1:${sshd.port}${path.join(base, dir)}`;

backendConformance('sftp (OpenSSH sshd on loopback)', async () => {
  const b = new SftpBackend(parseSftpLocation(`${loc(`conf-${randomBytes(6).toString('hex')}`)}?key=${encodeURIComponent(sshd.keyFile)}`));
  opened.push(b);
  return b;
});

test('sftp: init, snapshot, restore and a full read-back check over SFTP; unknown host keys and wrong keys are refused with what to do', async () => {
  const root = tmp();
  const src = path.join(root, 'src');
  await writeRandom(path.join(src, 'big.bin'), 16 << 20, 11);
  for (let i = 0; i < 20; i++) await fs.writeFile(path.join(src, `f${i}.txt`), `file ${i}\n`.repeat(200));
  const cli = new Cli(loc('repo1'));
  const env = { ...sshd.env, STRONGBOX_STORAGE_ATTEMPTS: '2' };
  cli.ok(['repo', 'init'], env);
  const snap = cli.json<{ id: string }>(['snapshot', 'create', '--path', src], env);
  const out = path.join(root, 'out');
  cli.ok(['snapshot', 'restore', snap.id, '--target', out], env);
  assert.deepEqual(await describeTree(path.join(out, src)), await describeTree(src));
  assert.match(cli.ok(['repo', 'check', '--read-data'], env), /no errors were found/);

  const unknown = cli.run(['snapshot', 'list'], { ...env, STRONGBOX_SSH_KNOWN_HOSTS: path.join(root, 'empty') });
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, new RegExp(`host key that is not trusted \\(${sshd.hostKeyFingerprint.replace(/[+/]/g, '\\$&')}\\).*ssh-keyscan.*host-key=SHA256:`));
  // Pinning the fingerprint works without known_hosts.
  const pinned = new Cli(`${loc('repo1')}?host-key=${encodeURIComponent(sshd.hostKeyFingerprint)}`);
  assert.equal(pinned.json<unknown[]>(['snapshot', 'list'], { ...env, STRONGBOX_SSH_KNOWN_HOSTS: path.join(root, 'empty') }).length, 1);
  const { spawnSync } = await import('node:child_process');
  spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(root, 'other')]);
  const wrongKey = cli.run(['snapshot', 'list'], { ...env, STRONGBOX_SFTP_KEY_FILE: path.join(root, 'other') });
  assert.equal(wrongKey.code, 1);
  assert.match(wrongKey.stderr, /refused the login of .*Check the key/);
});

test('sftp: a destination that keeps its SSH key (sealed) works without any key in the environment', async () => {
  const { instanceCli, listFiles } = await import('./testing/cli.js');
  const root = tmp();
  const cli = instanceCli(root, 'dest-password');
  const baseEnv = cli.env.bind(cli);
  cli.env = (more = {}) => {
    const env = baseEnv({ STRONGBOX_SSH_KNOWN_HOSTS: sshd.knownHosts, STRONGBOX_STORAGE_ATTEMPTS: '2', HOME: root, ...more });
    delete env.STRONGBOX_SFTP_KEY_FILE;
    delete env.SSH_AUTH_SOCK;
    return env;
  };
  cli.ok(['destination', 'add', 'box', loc('keyed'), '--init', '--ssh-key-file', sshd.keyFile]);
  await fs.writeFile(path.join(root, 'f.txt'), 'over ssh');
  cli.ok(['snapshot', 'create', '--path', path.join(root, 'f.txt')]);
  assert.equal(cli.json<unknown[]>(['snapshot', 'list']).length, 1);
  const key = await fs.readFile(sshd.keyFile, 'utf8');
  const marker = key.split('\n')[1]!;
  for (const f of await listFiles(path.join(root, 'home'))) assert.ok(!(await fs.readFile(path.join(root, 'home', f), 'utf8')).includes(marker), `${f} holds the key in plain text`);
});
