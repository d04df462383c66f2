import { randomBytes, scrypt as scryptCb, createHash } from 'node:crypto';
import { hostname, userInfo } from 'node:os';
import { AppError, systemClock } from '../../kernel/index.js';
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
    created: systemClock.now().toISOString(),
    host: hostname(),
    username,
    kdf: 'scrypt',
    ...params,
    salt: salt.toString('base64'),
    data: seal(wrapKey, payload).toString('base64'),
  };
}

/**
 * The KDF parameters a key file may ask for: a repository is untrusted input,
 * and a key file naming N = 2^40 would make opening it exhaust memory and time.
 */
export const SCRYPT_BOUNDS = { minLogN: 10, maxLogN: 20, maxR: 16, maxP: 4 };

/** Why a key file cannot be used (undefined when its shape and parameters are sane). */
export function keyFileProblem(file: unknown): string | undefined {
  const f = file as Partial<KeyFile> | null;
  if (!f || typeof f !== 'object') return 'not a JSON object';
  if (f.kdf !== 'scrypt' || f.version !== 1) return `unsupported kdf ${String(f.kdf).slice(0, 20)}, version ${String(f.version).slice(0, 20)}`;
  const { N, r, p } = f;
  if (!Number.isInteger(N) || !Number.isInteger(r) || !Number.isInteger(p)) return 'scrypt parameters are not integers';
  const logN = Math.log2(N!);
  if (!Number.isInteger(logN) || logN < SCRYPT_BOUNDS.minLogN || logN > SCRYPT_BOUNDS.maxLogN) return `scrypt N=${N} is outside 2^${SCRYPT_BOUNDS.minLogN}..2^${SCRYPT_BOUNDS.maxLogN}`;
  if (r! < 1 || r! > SCRYPT_BOUNDS.maxR || p! < 1 || p! > SCRYPT_BOUNDS.maxP) return `scrypt r=${r}, p=${p} are outside 1..${SCRYPT_BOUNDS.maxR} and 1..${SCRYPT_BOUNDS.maxP}`;
  if (typeof f.salt !== 'string' || typeof f.data !== 'string') return 'salt or data missing';
  const salt = Buffer.from(f.salt, 'base64');
  if (salt.length < 16 || salt.length > 64) return 'salt of an implausible length';
  return undefined;
}

/** Returns the master key, or undefined when the password does not open this key file. */
export async function unwrapMasterKey(file: KeyFile, password: string): Promise<MasterKey | undefined> {
  const problem = keyFileProblem(file);
  if (problem) throw new AppError('CORRUPT', `Unusable key file: ${problem}.`);
  const wrapKey = await deriveKey(password, Buffer.from(file.salt, 'base64'), file);
  let plain: Buffer;
  try {
    plain = open(wrapKey, Buffer.from(file.data, 'base64'), 'key file');
  } catch {
    return undefined;
  }
  const parsed = JSON.parse(plain.toString('utf8')) as { encrypt: string; mac: string };
  const master = { encrypt: Buffer.from(String(parsed.encrypt), 'base64'), mac: Buffer.from(String(parsed.mac), 'base64') };
  if (master.encrypt.length !== 32 || master.mac.length !== 32) throw new AppError('CORRUPT', 'A key file holds a master key of the wrong size.');
  return master;
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
