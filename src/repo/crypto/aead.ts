import { createCipheriv, createDecipheriv, createHmac, randomFillSync } from 'node:crypto';
import { AppError } from '../../kernel/index.js';

/** Sealed object: nonce (12) ‖ AES-256-GCM ciphertext ‖ tag (16). */
export const NONCE_LEN = 12;
export const TAG_LEN = 16;
export const SEAL_OVERHEAD = NONCE_LEN + TAG_LEN;

/**
 * OpenSSL's AES-GCM runs at a few GiB/s on this kind of CPU, but one update()
 * of a whole blob returns a fresh buffer as large as the blob, which then is
 * copied again to put the nonce and tag around it: fresh pages, faulted in and
 * zeroed by the kernel, and a second copy (measured: 0.3–1.0 GiB/s for 256 KiB
 * to 16 MiB blobs, against 1.4–1.8 GiB/s in slices; docs/PERFORMANCE.md). The
 * data goes through in slices whose small results the allocator reuses, written
 * once into the one output buffer. The format is the same.
 */
const SLICE = 64 * 1024;

/**
 * Nonces: 96 random bits each (GCM's own construction), taken from a block the
 * CSPRNG fills 341 nonces at a time — one call into OpenSSL per block instead
 * of per sealed object (measured: ~15 µs a call, 0.35 CPU-s of a 1.5 GiB backup).
 */
const NONCE_BLOCK = Buffer.alloc(NONCE_LEN * 341);
let nonceAt = NONCE_BLOCK.length;

function nextNonce(into: Buffer): void {
  if (nonceAt === NONCE_BLOCK.length) {
    randomFillSync(NONCE_BLOCK);
    nonceAt = 0;
  }
  NONCE_BLOCK.copy(into, 0, nonceAt, nonceAt + NONCE_LEN);
  // Each nonce is used once: its bytes are wiped as they are taken.
  NONCE_BLOCK.fill(0, nonceAt, nonceAt + NONCE_LEN);
  nonceAt += NONCE_LEN;
}

export function seal(key: Buffer, plain: Uint8Array | readonly Uint8Array[]): Buffer {
  const parts = Array.isArray(plain) ? (plain as readonly Uint8Array[]) : [plain as Uint8Array];
  let size = 0;
  for (const p of parts) size += p.byteLength;
  const out = Buffer.allocUnsafe(NONCE_LEN + size + TAG_LEN);
  nextNonce(out);
  const cipher = createCipheriv('aes-256-gcm', key, out.subarray(0, NONCE_LEN));
  let at = NONCE_LEN;
  for (const p of parts) {
    for (let i = 0; i < p.byteLength; i += SLICE) at += copyInto(cipher.update(p.subarray(i, Math.min(p.byteLength, i + SLICE))), out, at);
  }
  at += copyInto(cipher.final(), out, at);
  cipher.getAuthTag().copy(out, at);
  return out;
}

/** Opens a sealed object; throws CORRUPT when it does not authenticate. */
export function open(key: Buffer, sealed: Uint8Array, what = 'object'): Buffer {
  if (sealed.length < SEAL_OVERHEAD) throw new AppError('CORRUPT', `${what} is too short to be a sealed object.`);
  const buf = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
  const nonce = buf.subarray(0, NONCE_LEN);
  const tag = buf.subarray(buf.length - TAG_LEN);
  const body = buf.subarray(NONCE_LEN, buf.length - TAG_LEN);
  const decipher = createDecipheriv('aes-256-gcm', key, nonce);
  decipher.setAuthTag(tag);
  const out = Buffer.allocUnsafe(body.length);
  let at = 0;
  try {
    for (let i = 0; i < body.length; i += SLICE) at += copyInto(decipher.update(body.subarray(i, Math.min(body.length, i + SLICE))), out, at);
    at += copyInto(decipher.final(), out, at);
  } catch (err) {
    throw new AppError('CORRUPT', `${what} failed authentication (damaged or tampered).`, { cause: err });
  }
  return at === out.length ? out : out.subarray(0, at);
}

function copyInto(b: Buffer, out: Buffer, at: number): number {
  return b.length === 0 ? 0 : b.copy(out, at);
}

/** Keyed content id: HMAC-SHA-256 under the repository's id key. */
export function blobId(macKey: Buffer, data: Uint8Array): Buffer {
  return createHmac('sha256', macKey).update(data).digest();
}
