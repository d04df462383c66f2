import { createHash, createHmac, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import * as path from 'node:path/posix';
import { Client, type SFTPWrapper, type ConnectConfig } from 'ssh2';
import { AppError } from '../../kernel/index.js';
import type { Backend, FileKind, Handle, ObjectInfo, RemoveOptions } from '../backend.js';
import { hasConfig, listConfig } from '../config-object.js';

/**
 * A repository on an SSH server, over SFTP.
 *
 * Location: `sftp://USER@HOST[:PORT]/ABSOLUTE/PATH[?key=FILE&host-key=SHA256:…]`.
 * Authentication: the private key (`key=`, STRONGBOX_SFTP_KEY_FILE, or the
 * usual ~/.ssh/id_ed25519 / id_rsa), a password (STRONGBOX_SFTP_PASSWORD), or
 * the SSH agent. The server's host key must be known: listed in
 * ~/.ssh/known_hosts, or pinned with `host-key=SHA256:…` — an unknown key is
 * refused with its fingerprint, never trusted silently.
 *
 * Writes go to a temporary name, are fsynced (fsync@openssh.com) and renamed
 * into place, so an object appears whole or not at all, as on a local disk.
 */
export interface SftpLocation {
  host: string;
  port: number;
  user: string;
  root: string;
  keyFile?: string;
  hostKey?: string;
}

export interface SftpCredentials {
  password?: string;
  privateKey?: Buffer;
}

export function parseSftpLocation(location: string): SftpLocation {
  let u: URL;
  try {
    u = new URL(location);
  } catch {
    throw new AppError('INVALID_ARGUMENT', `"${location}" is not an SFTP location; write sftp://USER@HOST:PORT/PATH`);
  }
  if (u.protocol !== 'sftp:' || !u.hostname || !u.pathname || u.pathname === '/') throw new AppError('INVALID_ARGUMENT', `"${location}" is not an SFTP location; write sftp://USER@HOST:PORT/PATH (an absolute path)`);
  if (u.password) throw new AppError('INVALID_ARGUMENT', 'Do not put a password in an SFTP location: use a key, the SSH agent, or STRONGBOX_SFTP_PASSWORD.');
  for (const k of u.searchParams.keys()) if (k !== 'key' && k !== 'host-key') throw new AppError('INVALID_ARGUMENT', `Unknown SFTP location option "${k}"; known: key, host-key.`);
  return {
    host: u.hostname,
    port: Number(u.port || 22),
    user: decodeURIComponent(u.username) || process.env.USER || 'root',
    root: decodeURIComponent(u.pathname).replace(/\/+$/, ''),
    ...(u.searchParams.get('key') ? { keyFile: u.searchParams.get('key')! } : {}),
    ...(u.searchParams.get('host-key') ? { hostKey: u.searchParams.get('host-key')! } : {}),
  };
}

/** SHA256:… as ssh-keygen -lf prints it. */
export function fingerprint(key: Buffer): string {
  return `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
}

/** Whether ~/.ssh/known_hosts (plain or hashed entries) lists this key for this host. */
function knownHost(host: string, port: number, key: Buffer): boolean {
  let text: string;
  try {
    text = readFileSync(process.env.STRONGBOX_SSH_KNOWN_HOSTS ?? path.join(homedir(), '.ssh', 'known_hosts'), 'utf8');
  } catch {
    return false;
  }
  const names = port === 22 ? [host] : [`[${host}]:${port}`];
  const b64 = key.toString('base64');
  for (const line of text.split('\n')) {
    const parts = line.trim().split(/\s+/);
    if (parts.length < 3 || line.startsWith('#')) continue;
    const [hosts, , k] = parts as [string, string, string];
    if (k !== b64) continue;
    for (const h of hosts.split(',')) {
      if (h.startsWith('|1|')) {
        const [, , salt, digest] = h.split('|');
        if (names.some((n) => createHmac('sha1', Buffer.from(salt!, 'base64')).update(n).digest('base64') === digest)) return true;
      } else if (names.includes(h)) return true;
    }
  }
  return false;
}

const STATUS_NO_SUCH_FILE = 2;
const STATUS_PERMISSION_DENIED = 3;

export function mapSftpError(err: unknown, what: string, loc: SftpLocation): AppError {
  if (err instanceof AppError) return err;
  const e = err as Error & { code?: number | string; level?: string };
  const where = `sftp://${loc.user}@${loc.host}:${loc.port}${loc.root}`;
  if (e.code === STATUS_NO_SUCH_FILE) return new AppError('NOT_FOUND', `${what}: no such file in ${where}.`, { cause: err });
  if (e.code === STATUS_PERMISSION_DENIED) return new AppError('PERMISSION_DENIED', `The SSH server refused ${what} in ${where}: permission denied. Check the path's owner and mode.`, { cause: err });
  if (e.level === 'client-authentication') return new AppError('PERMISSION_DENIED', `The SSH server at ${loc.host}:${loc.port} refused the login of ${loc.user}: ${e.message}. Check the key (key=, STRONGBOX_SFTP_KEY_FILE), the agent, or STRONGBOX_SFTP_PASSWORD.`, { cause: err });
  if (/No space left|quota/i.test(e.message)) return new AppError('STORAGE_FULL', `The SSH server's disk is full (${what} in ${where}).`, { cause: err });
  return new AppError('STORAGE_UNAVAILABLE', `SFTP request failed (${what} in ${where}): ${e.message}.`, { cause: err });
}

export class SftpBackend implements Backend {
  readonly location: string;
  private session: Promise<{ client: Client; sftp: SFTPWrapper }> | undefined;
  private readonly madeDirs = new Set<string>();

  constructor(
    private readonly loc: SftpLocation,
    private readonly credentials: SftpCredentials = {},
  ) {
    this.location = `sftp://${loc.user}@${loc.host}:${loc.port}${loc.root}`;
  }

  private connect(): Promise<{ client: Client; sftp: SFTPWrapper }> {
    this.session ??= new Promise((resolve, reject) => {
      const client = new Client();
      let rejectedKey: string | undefined;
      const cfg: ConnectConfig = {
        host: this.loc.host,
        port: this.loc.port,
        username: this.loc.user,
        readyTimeout: 20_000,
        keepaliveInterval: 15_000,
        hostVerifier: (key: Buffer) => {
          const fp = fingerprint(key);
          const ok = this.loc.hostKey ? this.loc.hostKey === fp : knownHost(this.loc.host, this.loc.port, key);
          if (!ok) rejectedKey = fp;
          return ok;
        },
      };
      const keyFile = this.loc.keyFile ?? process.env.STRONGBOX_SFTP_KEY_FILE;
      const key = this.credentials.privateKey ?? (keyFile ? readFileSync(keyFile) : defaultKey());
      if (key) cfg.privateKey = key;
      const password = this.credentials.password ?? process.env.STRONGBOX_SFTP_PASSWORD;
      if (password) cfg.password = password;
      if (process.env.SSH_AUTH_SOCK) cfg.agent = process.env.SSH_AUTH_SOCK;
      client.once('ready', () => {
        client.sftp((err, sftp) => (err ? reject(mapSftpError(err, 'starting SFTP', this.loc)) : resolve({ client, sftp })));
      });
      client.once('error', (err) => {
        this.session = undefined;
        if (rejectedKey) {
          reject(
            new AppError(
              'PERMISSION_DENIED',
              `The SSH server ${this.loc.host}:${this.loc.port} presented a host key that is not trusted (${rejectedKey}). If it is right, add it to ~/.ssh/known_hosts (ssh-keyscan -p ${this.loc.port} ${this.loc.host} >> ~/.ssh/known_hosts) or pin it: ?host-key=${rejectedKey}`,
            ),
          );
        } else reject(mapSftpError(err, 'connecting', this.loc));
      });
      // A dropped connection: the next request connects again (the retry wrapper decides when).
      client.on('close', () => (this.session = undefined));
      client.connect(cfg);
    });
    return this.session;
  }

  private file(h: Handle): string {
    if (h.kind === 'config') return path.join(this.loc.root, 'config');
    if (!/^[0-9a-f]{8,64}$/.test(h.name)) throw new AppError('INVALID_ARGUMENT', `Invalid object name "${h.name}".`);
    if (h.kind === 'data') return path.join(this.loc.root, 'data', h.name.slice(0, 2), h.name);
    return path.join(this.loc.root, h.kind, h.name);
  }

  private async op<T>(what: string, fn: (sftp: SFTPWrapper, cb: (err: Error | null | undefined, v?: T) => void) => void): Promise<T> {
    const { sftp } = await this.connect();
    try {
      return await new Promise<T>((resolve, reject) => fn(sftp, (err, v) => (err ? reject(err) : resolve(v as T))));
    } catch (err) {
      throw mapSftpError(err, what, this.loc);
    }
  }

  private async mkdirs(dir: string): Promise<void> {
    if (this.madeDirs.has(dir)) return;
    const parts = dir.split('/').filter(Boolean);
    let cur = '';
    for (const p of parts) {
      cur += `/${p}`;
      if (this.madeDirs.has(cur)) continue;
      await this.op<void>(`creating ${cur}`, (s, cb) => s.mkdir(cur, (err) => cb(err && (err as { code?: number }).code !== 4 ? err : undefined))).catch(async (err: unknown) => {
        // FAILURE (4) is OpenSSH's answer for "exists": check it is a directory.
        const st = await this.op<{ isDirectory(): boolean }>(`checking ${cur}`, (s, cb) => s.stat(cur, cb)).catch(() => undefined);
        if (!st?.isDirectory()) throw err;
      });
      this.madeDirs.add(cur);
    }
  }

  async put(h: Handle, data: Uint8Array | readonly Uint8Array[]): Promise<void> {
    const target = this.file(h);
    const dir = path.dirname(target);
    await this.mkdirs(dir);
    const tmp = path.join(dir, `.tmp-${randomBytes(8).toString('hex')}`);
    const body = data instanceof Uint8Array ? Buffer.from(data.buffer, data.byteOffset, data.byteLength) : Buffer.concat(data as Uint8Array[]);
    const handle = await this.op<Buffer>(`writing ${target}`, (s, cb) => s.open(tmp, 'w', 0o600, cb));
    try {
      for (let off = 0; off < body.length; off += 1 << 20) {
        const n = Math.min(1 << 20, body.length - off);
        await this.op<void>(`writing ${target}`, (s, cb) => s.write(handle, body, off, n, off, (err) => cb(err)));
      }
      await this.op<void>(`syncing ${target}`, (s, cb) => s.ext_openssh_fsync(handle, (err) => cb(err)));
      await this.op<void>(`closing ${target}`, (s, cb) => s.close(handle, (err) => cb(err)));
      // posix-rename replaces atomically; keys are immutable, so a replaced object has the same bytes.
      await this.op<void>(`renaming into ${target}`, (s, cb) => s.ext_openssh_rename(tmp, target, (err) => cb(err)));
    } catch (err) {
      await this.op<void>('cleaning up', (s, cb) => s.unlink(tmp, (e) => cb(e))).catch(() => undefined);
      throw err;
    }
  }

  async get(h: Handle, range?: { offset: number; length: number }): Promise<Buffer> {
    const file = this.file(h);
    const handle = await this.op<Buffer>(`reading ${file}`, (s, cb) => s.open(file, 'r', cb));
    try {
      let offset = range?.offset ?? 0;
      let length = range?.length;
      if (length === undefined) {
        const st = await this.op<{ size: number }>(`reading ${file}`, (s, cb) => s.fstat(handle, cb));
        length = st.size - offset;
      }
      const out = Buffer.allocUnsafe(length);
      let got = 0;
      while (got < length) {
        const n = Math.min(256 * 1024, length - got);
        const read = await this.op<number>(`reading ${file}`, (s, cb) => s.read(handle, out, got, n, offset, (err, bytes) => cb(err, bytes)));
        if (!read) break;
        got += read;
        offset += read;
      }
      if (got !== length) throw new AppError('CORRUPT', `${file} is shorter than expected (wanted ${length} bytes at offset ${range?.offset ?? 0}, got ${got}).`);
      return out;
    } finally {
      await this.op<void>(`closing ${file}`, (s, cb) => s.close(handle, (err) => cb(err))).catch(() => undefined);
    }
  }

  async stat(h: Handle): Promise<ObjectInfo> {
    const file = this.file(h);
    const st = await this.op<{ size: number }>(`looking up ${file}`, (s, cb) => s.stat(file, cb));
    return { name: h.name, size: st.size };
  }

  private async readdir(dir: string): Promise<{ filename: string; attrs: { size: number; isFile(): boolean; isDirectory(): boolean } }[]> {
    try {
      return await this.op(`listing ${dir}`, (s, cb) => s.readdir(dir, cb as never));
    } catch (err) {
      if (err instanceof AppError && err.code === 'NOT_FOUND') return [];
      throw err;
    }
  }

  async *list(kind: FileKind): AsyncIterable<ObjectInfo> {
    if (kind === 'config') {
      yield* listConfig((h) => this.stat(h));
      return;
    }
    const base = path.join(this.loc.root, kind);
    const dirs = kind === 'data' ? (await this.readdir(base)).filter((e) => /^[0-9a-f]{2}$/.test(e.filename)).map((e) => path.join(base, e.filename)) : [base];
    for (const d of dirs) {
      for (const e of await this.readdir(d)) if (/^[0-9a-f]{8,64}$/.test(e.filename) && e.attrs.isFile()) yield { name: e.filename, size: e.attrs.size };
    }
  }

  async remove(h: Handle, opts?: RemoveOptions): Promise<void> {
    const file = this.file(h);
    await this.op<void>(`deleting ${file}`, (s, cb) => s.unlink(file, (err) => cb(err))).catch((err: unknown) => {
      if (!(opts?.missingOk && err instanceof AppError && err.code === 'NOT_FOUND')) throw err;
    });
  }

  isRepository(): Promise<boolean> {
    return hasConfig((h) => this.stat(h));
  }

  async create(): Promise<void> {
    await this.mkdirs(this.loc.root);
    if (await this.isRepository()) throw new AppError('REPO_EXISTS', `A repository already exists at ${this.location}.`);
    const other = (await this.readdir(this.loc.root)).filter((e) => !['.', '..'].includes(e.filename));
    if (other.length > 0) throw new AppError('CONFLICT', `${this.location} is not empty (it holds ${other[0]!.filename}) and is not a Strongbox repository; choose an empty directory.`);
  }

  async close(): Promise<void> {
    const s = this.session;
    this.session = undefined;
    if (s) (await s.catch(() => undefined))?.client.end();
  }
}

function defaultKey(): Buffer | undefined {
  for (const name of ['id_ed25519', 'id_ecdsa', 'id_rsa']) {
    try {
      return readFileSync(path.join(homedir(), '.ssh', name));
    } catch {
      /* next */
    }
  }
  return undefined;
}
