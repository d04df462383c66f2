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

export function decodeIndexFile(b: Buffer, name: string): IndexFileContent {
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
  const packs: IndexedPack[] = [];
  for (let i = 0; i < np; i++) {
    need(36);
    const id = b.toString('hex', o, o + 32);
    const nb = b.readUInt32LE(o + 32);
    o += 36;
    need(nb * ENTRY);
    const blobs: PackedBlob[] = [];
    for (let j = 0; j < nb; j++) {
      blobs.push({
        type: b[o] === 1 ? 'tree' : 'data',
        id: Buffer.from(b.subarray(o + 1, o + 33)),
        offset: b.readUInt32LE(o + 33),
        length: b.readUInt32LE(o + 37),
        rawLength: b.readUInt32LE(o + 41),
      });
      o += ENTRY;
    }
    packs.push({ id, blobs });
  }
  if (o !== b.length) throw fail('trailing bytes');
  return { supersedes, packs };
}
