import { randomBytes, scrypt as scryptCb, createHash } from 'node:crypto';
import { hostname, userInfo } from 'node:os';
import { AppError } from '../../kernel/index.js';
import { open, seal } from './aead.js';

/** The repository's master key: one AES-256-GCM key for every object, one HMAC key for ids. */
export interface MasterKey {
  encrypt: Buffer;
  mac: Buffer;
}

/** A key file (keys/<id>): plaintext JSON holding the master key wrapped by a password-derived key. */
export interface KeyFile {
  version: 1;
  created: string;
  host: string;
  username: string;
  kdf: 'scrypt';
  N: number;
  r: number;
  p: number;
  salt: string;
  data: string;
}

export const DEFAULT_SCRYPT = { N: 1 << 15, r: 8, p: 1 };

export function newMasterKey(): MasterKey {
  return { encrypt: randomBytes(32), mac: randomBytes(32) };
}

function deriveKey(password: string, salt: Buffer, p: { N: number; r: number; p: number }): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scryptCb(password.normalize('NFC'), salt, 32, { N: p.N, r: p.r, p: p.p, maxmem: 256 * p.N * p.r + 16 * 1024 * 1024 }, (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
}

export async function wrapMasterKey(master: MasterKey, password: string, params = DEFAULT_SCRYPT): Promise<KeyFile> {
  const salt = randomBytes(32);
  const wrapKey = await deriveKey(password, salt, params);
  const payload = Buffer.from(JSON.stringify({ encrypt: master.encrypt.toString('base64'), mac: master.mac.toString('base64') }));
  let username = 'unknown';
  try {
    username = userInfo().username;
  } catch {
    /* no passwd entry */
  }
  return {
    version: 1,
    created: new Date().toISOString(),
    host: hostname(),
    username,
    kdf: 'scrypt',
    ...params,
    salt: salt.toString('base64'),
    data: seal(wrapKey, payload).toString('base64'),
  };
}

/** Returns the master key, or undefined when the password does not open this key file. */
export async function unwrapMasterKey(file: KeyFile, password: string): Promise<MasterKey | undefined> {
  if (file.kdf !== 'scrypt' || file.version !== 1) throw new AppError('CORRUPT', `Unsupported key file (kdf ${String(file.kdf)}, version ${String(file.version)}).`);
  const wrapKey = await deriveKey(password, Buffer.from(file.salt, 'base64'), file);
  let plain: Buffer;
  try {
    plain = open(wrapKey, Buffer.from(file.data, 'base64'), 'key file');
  } catch {
    return undefined;
  }
  const parsed = JSON.parse(plain.toString('utf8')) as { encrypt: string; mac: string };
  return { encrypt: Buffer.from(parsed.encrypt, 'base64'), mac: Buffer.from(parsed.mac, 'base64') };
}

export function encodeKeyFile(file: KeyFile): Buffer {
  return Buffer.from(JSON.stringify(file, null, 2) + '\n');
}

export function decodeKeyFile(data: Buffer): KeyFile {
  try {
    return JSON.parse(data.toString('utf8')) as KeyFile;
  } catch (err) {
    throw new AppError('CORRUPT', 'A key file is not valid JSON.', { cause: err });
  }
}

export function sha256(data: Uint8Array | readonly Uint8Array[]): Buffer {
  const h = createHash('sha256');
  if (Array.isArray(data)) for (const d of data as readonly Uint8Array[]) h.update(d);
  else h.update(data as Uint8Array);
  return h.digest();
}
