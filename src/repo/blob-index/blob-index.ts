import type { BlobType } from '../pack/pack.js';

export interface BlobLocation {
  type: BlobType;
  pack: string;
  offset: number;
  length: number;
  rawLength: number;
}

/** Entries per storage segment: the entries grow a segment at a time, never copied. */
const SEG_BITS = 16;
const SEG = 1 << SEG_BITS;

/**
 * Compact in-memory map from blob id to its location, 57–65 bytes per blob. The entries
 * (32-byte id, pack number, offset, length, raw length, type: 49 bytes) sit in fixed segments
 * of 65,536 that are appended as the index grows and never copied; a separate table of 32-bit
 * entry numbers, kept at most half full, finds them by open addressing. Growing rebuilds only
 * that table, so a million blobs peak at about 73 MiB (the entries, and the old and new
 * tables of slots while it grows), where a table of whole entries peaked at three times its
 * final size of 98 MiB while it was being rehashed. Ids are keyed hashes, so their first
 * bytes are uniformly distributed and serve directly as the hash.
 */
export class BlobIndex {
  /** Entry number + 1 per slot (0 = empty). */
  private slots: Uint32Array;
  private readonly idSegs: Uint8Array[] = [];
  /** Per entry: pack number, offset, length, raw length. */
  private readonly metaSegs: Uint32Array[] = [];
  private readonly typeSegs: Uint8Array[] = [];
  private readonly packs: string[] = [];
  private readonly packNo = new Map<string, number>();
  size = 0;

  constructor(initial = 1024) {
    this.slots = new Uint32Array(Math.max(16, 1 << Math.ceil(Math.log2(initial * 2))));
  }

  private static hash(id: Uint8Array, at = 0): number {
    return (id[at]! | (id[at + 1]! << 8) | (id[at + 2]! << 16) | (id[at + 3]! << 24)) >>> 0;
  }

  private grow(): void {
    const slots = new Uint32Array(this.slots.length * 2);
    const mask = slots.length - 1;
    for (let e = 0; e < this.size; e++) {
      let s = BlobIndex.hash(this.idSegs[e >>> SEG_BITS]!, (e & (SEG - 1)) * 32) & mask;
      while (slots[s] !== 0) s = (s + 1) & mask;
      slots[s] = e + 1;
    }
    this.slots = slots;
  }

  /** The slot holding `id` (32 bytes at `at`), or the empty slot where it would go. */
  private findSlot(id: Uint8Array, at = 0): number {
    const mask = this.slots.length - 1;
    let s = BlobIndex.hash(id, at) & mask;
    for (;;) {
      const e1 = this.slots[s]!;
      if (e1 === 0) return s;
      const e = e1 - 1;
      const ids = this.idSegs[e >>> SEG_BITS]!;
      const base = (e & (SEG - 1)) * 32;
      let eq = true;
      for (let i = 0; i < 32; i++) {
        if (ids[base + i] !== id[at + i]) {
          eq = false;
          break;
        }
      }
      if (eq) return s;
      s = (s + 1) & mask;
    }
  }

  has(id: Uint8Array): boolean {
    return this.slots[this.findSlot(id)] !== 0;
  }

  /** `has` for the id at `at` in `ids` (no view made for it: an incremental snapshot asks for every unchanged file). */
  hasAt(ids: Uint8Array, at: number): boolean {
    return this.slots[this.findSlot(ids, at)] !== 0;
  }

  get(id: Uint8Array): BlobLocation | undefined {
    const e1 = this.slots[this.findSlot(id)]!;
    return e1 === 0 ? undefined : this.at(e1 - 1);
  }

  private at(e: number): BlobLocation {
    const meta = this.metaSegs[e >>> SEG_BITS]!;
    const m = (e & (SEG - 1)) * 4;
    return {
      type: this.typeSegs[e >>> SEG_BITS]![e & (SEG - 1)] === 1 ? 'tree' : 'data',
      pack: this.packs[meta[m]!]!,
      offset: meta[m + 1]!,
      length: meta[m + 2]!,
      rawLength: meta[m + 3]!,
    };
  }

  /** Adds a location; an id already present keeps its first location. Returns true if added. */
  add(id: Uint8Array, loc: BlobLocation): boolean {
    return this.addAt(id, 0, loc.type, this.packNumber(loc.pack), loc.offset, loc.length, loc.rawLength);
  }

  /** The number `addAt` takes for a pack (its id in hex). */
  packNumber(pack: string): number {
    let p = this.packNo.get(pack);
    if (p === undefined) {
      p = this.packs.length;
      this.packs.push(pack);
      this.packNo.set(pack, p);
    }
    return p;
  }

  /** Room for `count` entries in all, made at once (an index loading its files knows how many it will hold). */
  reserve(count: number): void {
    if (count * 2 <= this.slots.length) return;
    let n = this.slots.length;
    while (count * 2 > n) n *= 2;
    const slots = new Uint32Array(n);
    const mask = n - 1;
    for (let e = 0; e < this.size; e++) {
      let s = BlobIndex.hash(this.idSegs[e >>> SEG_BITS]!, (e & (SEG - 1)) * 32) & mask;
      while (slots[s] !== 0) s = (s + 1) & mask;
      slots[s] = e + 1;
    }
    this.slots = slots;
  }

  /**
   * `add` for the id at ids[at, at + 32) in pack number `pack` (packNumber): no view and no
   * location object made per blob, for an index file's million entries.
   */
  addAt(ids: Uint8Array, at: number, type: BlobLocation['type'], pack: number, offset: number, length: number, rawLength: number): boolean {
    if ((this.size + 1) * 2 > this.slots.length) this.grow();
    const s = this.findSlot(ids, at);
    if (this.slots[s] !== 0) return false;
    const e = this.size;
    const seg = e >>> SEG_BITS;
    if (seg === this.idSegs.length) {
      this.idSegs.push(new Uint8Array(SEG * 32));
      this.metaSegs.push(new Uint32Array(SEG * 4));
      this.typeSegs.push(new Uint8Array(SEG));
    }
    const i = e & (SEG - 1);
    const idSeg = this.idSegs[seg]!;
    for (let k = 0; k < 32; k++) idSeg[i * 32 + k] = ids[at + k]!;
    const meta = this.metaSegs[seg]!;
    meta[i * 4] = pack;
    meta[i * 4 + 1] = offset;
    meta[i * 4 + 2] = length;
    meta[i * 4 + 3] = rawLength;
    this.typeSegs[seg]![i] = type === 'tree' ? 1 : 0;
    this.slots[s] = e + 1;
    this.size++;
    return true;
  }

  /** Every entry, in the order they were added. */
  *entries(): IterableIterator<[Buffer, BlobLocation]> {
    for (let e = 0; e < this.size; e++) {
      const id = Buffer.from(this.idSegs[e >>> SEG_BITS]!.subarray((e & (SEG - 1)) * 32, (e & (SEG - 1)) * 32 + 32));
      yield [id, this.at(e)];
    }
  }

  packIds(): string[] {
    return [...this.packs];
  }
}
