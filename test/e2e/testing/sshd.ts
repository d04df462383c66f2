import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import * as path from 'node:path';
import { tmp } from './cli.js';
import { freePort } from './servers.js';

export interface Sshd {
  port: number;
  user: string;
  /** The client's private key file, and a known_hosts file that trusts the server. */
  keyFile: string;
  knownHosts: string;
  hostKeyFingerprint: string;
  env: Record<string, string>;
  stop(): void;
}

/** Starts OpenSSH's sshd (Debian's openssh-server) on a free loopback port, with a fresh host key and a client key. */
export async function startSshd(): Promise<Sshd> {
  const sshd = '/usr/sbin/sshd';
  if (!existsSync(sshd)) throw new Error(`${sshd} is missing: the SFTP tests need openssh-server (.ci/run installs it)`);
  const dir = tmp('sb-sshd-');
  const keygen = (file: string) => {
    const r = spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', file], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`ssh-keygen failed: ${r.stderr}`);
  };
  keygen(path.join(dir, 'host'));
  keygen(path.join(dir, 'client'));
  writeFileSync(path.join(dir, 'authorized_keys'), readFileSync(path.join(dir, 'client.pub')), { mode: 0o600 });
  // Privilege separation needs this directory (it exists once the service has run).
  if (process.getuid?.() === 0) mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const port = await freePort();
  writeFileSync(
    path.join(dir, 'sshd_config'),
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${dir}/host`,
      `AuthorizedKeysFile ${dir}/authorized_keys`,
      `PidFile ${dir}/sshd.pid`,
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PubkeyAuthentication yes',
      'PermitRootLogin prohibit-password',
      'StrictModes no',
      'UsePAM no',
      'Subsystem sftp internal-sftp',
      'LogLevel ERROR',
    ].join('\n') + '\n',
  );
  const child = spawn(sshd, ['-D', '-e', '-f', path.join(dir, 'sshd_config')], { stdio: ['ignore', 'ignore', 'inherit'] });
  process.once('exit', () => child.kill('SIGKILL'));
  const until = Date.now() + 10_000;
  for (;;) {
    const up = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (up) break;
    if (Date.now() > until) throw new Error('sshd did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
  const hostPub = readFileSync(path.join(dir, 'host.pub'), 'utf8').trim().split(' ');
  const knownHosts = path.join(dir, 'known_hosts');
  writeFileSync(knownHosts, `[127.0.0.1]:${port} ${hostPub[0]} ${hostPub[1]}\n`);
  const fp = spawnSync('ssh-keygen', ['-lf', path.join(dir, 'host.pub')], { encoding: 'utf8' }).stdout.split(' ')[1]!;
  const user = spawnSync('id', ['-un'], { encoding: 'utf8' }).stdout.trim();
  return {
    port,
    user,
    keyFile: path.join(dir, 'client'),
    knownHosts,
    hostKeyFingerprint: fp,
    env: { STRONGBOX_SFTP_KEY_FILE: path.join(dir, 'client'), STRONGBOX_SSH_KNOWN_HOSTS: knownHosts },
    stop: () => child.kill('SIGTERM'),
  };
}
