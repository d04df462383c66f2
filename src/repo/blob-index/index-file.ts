import { AppError } from '../../kernel/index.js';
import type { PackedBlob } from '../pack/pack.js';

/**
 * Index file plaintext (sealed on storage): "SBIX", version 1, the ids of index
 * files it supersedes, then per pack its id and its blobs. See docs/FORMAT.md.
 */
export interface IndexedPack {
  id: string;
  blobs: PackedBlob[];
}

export interface IndexFileContent {
  supersedes: string[];
  packs: IndexedPack[];
}

const MAGIC = Buffer.from('SBIX');
const ENTRY = 1 + 32 + 4 + 4 + 4;

export function encodeIndexFile(content: IndexFileContent): Buffer {
  let size = 4 + 1 + 4 + content.supersedes.length * 32 + 4;
  for (const p of content.packs) size += 32 + 4 + p.blobs.length * ENTRY;
  const b = Buffer.alloc(size);
  MAGIC.copy(b, 0);
  b[4] = 1;
  let o = 5;
  b.writeUInt32LE(content.supersedes.length, o);
  o += 4;
  for (const s of content.supersedes) o += Buffer.from(s, 'hex').copy(b, o);
  b.writeUInt32LE(content.packs.length, o);
  o += 4;
  for (const p of content.packs) {
    o += Buffer.from(p.id, 'hex').copy(b, o);
    b.writeUInt32LE(p.blobs.length, o);
    o += 4;
    for (const e of p.blobs) {
      b[o] = e.type === 'tree' ? 1 : 0;
      e.id.copy(b, o + 1);
      b.writeUInt32LE(e.offset, o + 33);
      b.writeUInt32LE(e.length, o + 37);
      b.writeUInt32LE(e.rawLength, o + 41);
      o += ENTRY;
    }
  }
  return b;
}

/** What `scanIndexFile` calls for each pack and each of its blobs (the blob's id is file[at, at + 32): no view made per blob). */
export interface IndexVisitor {
  pack(id: string, blobs: number): void;
  blob(type: PackedBlob['type'], file: Buffer, at: number, offset: number, length: number, rawLength: number): void;
}

/**
 * Checks an index file's whole structure and returns what it supersedes; with a visitor, walks
 * its packs and blobs without making an object per blob (a million blobs would be hundreds of
 * MiB of objects while the index loads).
 */
export function scanIndexFile(b: Buffer, name: string, visit?: IndexVisitor): { supersedes: string[]; blobs: number } {
  const fail = (why: string) => new AppError('CORRUPT', `index ${name}: ${why}. Run "strongbox repo index rebuild".`);
  if (b.length < 13 || !b.subarray(0, 4).equals(MAGIC) || b[4] !== 1) throw fail('unknown format');
  let o = 5;
  const need = (n: number) => {
    if (o + n > b.length) throw fail('truncated');
  };
  need(4);
  const ns = b.readUInt32LE(o);
  o += 4;
  const supersedes: string[] = [];
  for (let i = 0; i < ns; i++) {
    need(32);
    supersedes.push(b.toString('hex', o, o + 32));
    o += 32;
  }
  need(4);
  const np = b.readUInt32LE(o);
  o += 4;
  let blobs = 0;
  for (let i = 0; i < np; i++) {
    need(36);
    const nb = b.readUInt32LE(o + 32);
    visit?.pack(b.toString('hex', o, o + 32), nb);
    o += 36;
    need(nb * ENTRY);
    blobs += nb;
    if (visit) for (let j = 0; j < nb; j++, o += ENTRY) visit.blob(b[o] === 1 ? 'tree' : 'data', b, o + 1, b.readUInt32LE(o + 33), b.readUInt32LE(o + 37), b.readUInt32LE(o + 41));
    else o += nb * ENTRY;
  }
  if (o !== b.length) throw fail('trailing bytes');
  return { supersedes, blobs };
}

export function decodeIndexFile(b: Buffer, name: string): IndexFileContent {
  const packs: IndexedPack[] = [];
  const { supersedes } = scanIndexFile(b, name, {
    pack: (id) => void packs.push({ id, blobs: [] }),
    blob: (type, file, at, offset, length, rawLength) => void packs[packs.length - 1]!.blobs.push({ type, id: Buffer.from(file.subarray(at, at + 32)), offset, length, rawLength }),
  });
  return { supersedes, packs };
}
