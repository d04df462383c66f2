import { AppError } from '../../kernel/index.js';
import { open, seal } from '../crypto/aead.js';
import { sha256 } from '../crypto/keys.js';

/**
 * Pack file: sealed blobs back to back, then a sealed header listing them, then
 * the sealed header's length as a little-endian u32. The pack's name is the
 * SHA-256 of its sealed header (which holds every blob's keyed id and length,
 * and a random nonce): hashing 16 MiB per pack on the main thread would cost
 * more than everything else the main thread does, and every blob is already
 * authenticated on its own. See docs/FORMAT.md.
 */
export type BlobType = 'data' | 'tree';

export interface PackedBlob {
  type: BlobType;
  id: Buffer;
  offset: number;
  length: number;
  rawLength: number;
}

const MAGIC = Buffer.from('SBPK');
const ENTRY = 1 + 32 + 4 + 4;

export function encodePackHeader(key: Buffer, blobs: readonly PackedBlob[]): Buffer {
  const plain = Buffer.alloc(MAGIC.length + 1 + 4 + blobs.length * ENTRY);
  MAGIC.copy(plain, 0);
  plain[4] = 1;
  plain.writeUInt32LE(blobs.length, 5);
  let o = 9;
  for (const b of blobs) {
    plain[o] = b.type === 'tree' ? 1 : 0;
    b.id.copy(plain, o + 1);
    plain.writeUInt32LE(b.length, o + 33);
    plain.writeUInt32LE(b.rawLength, o + 37);
    o += ENTRY;
  }
  const sealed = seal(key, plain);
  const len = Buffer.alloc(4);
  len.writeUInt32LE(sealed.length, 0);
  return Buffer.concat([sealed, len]);
}

/** The pack's name: SHA-256 of its sealed header (the tail without the length word). */
export function packName(tail: Buffer): string {
  const hlen = tail.readUInt32LE(tail.length - 4);
  return sha256(tail.subarray(tail.length - 4 - hlen, tail.length - 4)).toString('hex');
}

/** Parses the header from a pack's tail (or the whole pack). `packSize` is the full size. */
export function decodePackHeader(key: Buffer, tail: Buffer, packSize: number, name: string): PackedBlob[] {
  if (tail.length < 4) throw new AppError('CORRUPT', `pack ${name} is too short to hold a header.`);
  const hlen = tail.readUInt32LE(tail.length - 4);
  if (hlen + 4 > tail.length || hlen + 4 > packSize) throw new AppError('CORRUPT', `pack ${name} has an impossible header length ${hlen}.`);
  if (packName(tail) !== name) throw new AppError('CORRUPT', `pack ${name}: its header does not match its name (SHA-256).`);
  const plain = open(key, tail.subarray(tail.length - 4 - hlen, tail.length - 4), `header of pack ${name}`);
  if (!plain.subarray(0, 4).equals(MAGIC) || plain[4] !== 1) throw new AppError('CORRUPT', `pack ${name} has an unknown header format.`);
  const count = plain.readUInt32LE(5);
  if (9 + count * ENTRY !== plain.length) throw new AppError('CORRUPT', `pack ${name} header is truncated.`);
  const blobs: PackedBlob[] = [];
  let o = 9;
  let offset = 0;
  for (let i = 0; i < count; i++) {
    const length = plain.readUInt32LE(o + 33);
    blobs.push({ type: plain[o] === 1 ? 'tree' : 'data', id: Buffer.from(plain.subarray(o + 1, o + 33)), offset, length, rawLength: plain.readUInt32LE(o + 37) });
    offset += length;
    o += ENTRY;
  }
  if (offset + hlen + 4 !== packSize) throw new AppError('CORRUPT', `pack ${name}: header does not account for its size.`);
  return blobs;
}
