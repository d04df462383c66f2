import type { BlobType } from '../pack/pack.js';

export interface BlobLocation {
  type: BlobType;
  pack: string;
  offset: number;
  length: number;
  rawLength: number;
}

/**
 * Compact in-memory map from blob id to its location: open addressing over typed
 * arrays (about 60 bytes per blob instead of several hundred for a Map of strings),
 * so a million blobs cost tens of MiB. Ids are keyed hashes, so their first bytes
 * are uniformly distributed and serve directly as the hash.
 */
export class BlobIndex {
  private cap = 0;
  private ids = new Uint8Array(0);
  private meta = new Uint32Array(0); // per slot: packIndex+1 (0 = empty), offset, length, rawLength
  private types = new Uint8Array(0);
  private readonly packs: string[] = [];
  private readonly packNo = new Map<string, number>();
  size = 0;

  constructor(initial = 1024) {
    this.alloc(Math.max(16, 1 << Math.ceil(Math.log2(initial * 2))));
  }

  private alloc(cap: number): void {
    const oldIds = this.ids;
    const oldMeta = this.meta;
    const oldTypes = this.types;
    const oldCap = this.cap;
    this.cap = cap;
    this.ids = new Uint8Array(cap * 32);
    this.meta = new Uint32Array(cap * 4);
    this.types = new Uint8Array(cap);
    for (let s = 0; s < oldCap; s++) {
      if (oldMeta[s * 4] === 0) continue;
      const slot = this.findSlot(oldIds.subarray(s * 32, s * 32 + 32));
      this.ids.set(oldIds.subarray(s * 32, s * 32 + 32), slot * 32);
      this.meta.set(oldMeta.subarray(s * 4, s * 4 + 4), slot * 4);
      this.types[slot] = oldTypes[s]!;
    }
  }

  /** The slot holding `id`, or the empty slot where it would go. */
  private findSlot(id: Uint8Array): number {
    const mask = this.cap - 1;
    let s = ((id[0]! | (id[1]! << 8) | (id[2]! << 16) | (id[3]! << 24)) >>> 0) & mask;
    for (;;) {
      if (this.meta[s * 4] === 0) return s;
      const base = s * 32;
      let eq = true;
      for (let i = 0; i < 32; i++) {
        if (this.ids[base + i] !== id[i]) {
          eq = false;
          break;
        }
      }
      if (eq) return s;
      s = (s + 1) & mask;
    }
  }

  has(id: Uint8Array): boolean {
    return this.meta[this.findSlot(id) * 4] !== 0;
  }

  get(id: Uint8Array): BlobLocation | undefined {
    const s = this.findSlot(id);
    const p = this.meta[s * 4]!;
    if (p === 0) return undefined;
    return {
      type: this.types[s] === 1 ? 'tree' : 'data',
      pack: this.packs[p - 1]!,
      offset: this.meta[s * 4 + 1]!,
      length: this.meta[s * 4 + 2]!,
      rawLength: this.meta[s * 4 + 3]!,
    };
  }

  /** Adds a location; an id already present keeps its first location. Returns true if added. */
  add(id: Uint8Array, loc: BlobLocation): boolean {
    if ((this.size + 1) * 2 > this.cap) this.alloc(this.cap * 2);
    const s = this.findSlot(id);
    if (this.meta[s * 4] !== 0) return false;
    let p = this.packNo.get(loc.pack);
    if (p === undefined) {
      p = this.packs.length;
      this.packs.push(loc.pack);
      this.packNo.set(loc.pack, p);
    }
    this.ids.set(id.subarray(0, 32), s * 32);
    this.meta[s * 4] = p + 1;
    this.meta[s * 4 + 1] = loc.offset;
    this.meta[s * 4 + 2] = loc.length;
    this.meta[s * 4 + 3] = loc.rawLength;
    this.types[s] = loc.type === 'tree' ? 1 : 0;
    this.size++;
    return true;
  }

  *entries(): IterableIterator<[Buffer, BlobLocation]> {
    for (let s = 0; s < this.cap; s++) {
      if (this.meta[s * 4] === 0) continue;
      const id = Buffer.from(this.ids.subarray(s * 32, s * 32 + 32));
      yield [id, this.get(id)!];
    }
  }

  packIds(): string[] {
    return [...this.packs];
  }
}
