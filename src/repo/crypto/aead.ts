import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import { AppError } from '../../kernel/index.js';

/** Sealed object: nonce (12) ‖ AES-256-GCM ciphertext ‖ tag (16). */
export const NONCE_LEN = 12;
export const TAG_LEN = 16;
export const SEAL_OVERHEAD = NONCE_LEN + TAG_LEN;

export function seal(key: Buffer, plain: Uint8Array | readonly Uint8Array[]): Buffer {
  const parts = Array.isArray(plain) ? (plain as readonly Uint8Array[]) : [plain as Uint8Array];
  const nonce = randomBytes(NONCE_LEN);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  const out: Buffer[] = [nonce];
  for (const p of parts) out.push(cipher.update(p));
  out.push(cipher.final(), cipher.getAuthTag());
  return Buffer.concat(out);
}

/** Opens a sealed object; throws CORRUPT when it does not authenticate. */
export function open(key: Buffer, sealed: Uint8Array, what = 'object'): Buffer {
  if (sealed.length < SEAL_OVERHEAD) throw new AppError('CORRUPT', `${what} is too short to be a sealed object.`);
  const buf = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
  const nonce = buf.subarray(0, NONCE_LEN);
  const tag = buf.subarray(buf.length - TAG_LEN);
  const decipher = createDecipheriv('aes-256-gcm', key, nonce);
  decipher.setAuthTag(tag);
  try {
    return Buffer.concat([decipher.update(buf.subarray(NONCE_LEN, buf.length - TAG_LEN)), decipher.final()]);
  } catch (err) {
    throw new AppError('CORRUPT', `${what} failed authentication (damaged or tampered).`, { cause: err });
  }
}

/** Keyed content id: HMAC-SHA-256 under the repository's id key. */
export function blobId(macKey: Buffer, data: Uint8Array): Buffer {
  return createHmac('sha256', macKey).update(data).digest();
}
