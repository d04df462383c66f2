import { isUtf8 } from 'node:buffer';

/**
 * Reads one node of a tree as encodeTree writes it, straight from its bytes: the values an
 * incremental snapshot compares with a directory's listing, with no string or object made.
 * `JSON.parse` of each node and collecting what it made was a third of a worker's time in
 * an incremental snapshot of many small files (docs/PERFORMANCE.md).
 *
 * The scanner accepts a strict subset of JSON and nothing else: one object, no whitespace,
 * known keys each at most once, each with its value's type as the format has it (numbers
 * whole and canonical, strings without escapes or control characters, well-formed UTF-8 only
 * where a name or owner may need it, content ids as 64 hex digits). So a text it accepts is a
 * JSON object standing alone, and JSON.parse would make of it exactly the values it records.
 * Anything else — another writer's encoding, a crafted tree — it leaves to JSON.parse
 * (`scanNode` returns -1), and the caller decides as it did before.
 */

/** String values recorded, as [start, end) of their text between the quotes (0, 0: absent). */
export const S_NAME = 0;
export const S_TYPE = 1;
export const S_USER = 2;
export const S_GROUP = 3;
export const S_MTIME = 4;
export const S_CTIME = 5;
export const S_INODE = 6;
export const S_DEV = 7;
/** The content list: its text between the brackets. */
export const S_CONTENT = 8;
const STRINGS = 9;
/** Numbers recorded (NaN: absent). */
export const N_MODE = 0;
export const N_UID = 1;
export const N_GID = 2;
export const N_SIZE = 3;
export const N_LINKS = 4;
/** How many content ids the node has. */
export const N_IDS = 5;
/**
 * The decimal strings as numbers, where the text is canonical (digits, no leading zero) and
 * the number exact: a time as whole seconds and nanoseconds (its last nine digits), as a
 * listing has it; an inode or device of at most 15 digits. NaN otherwise: the text decides.
 */
export const N_MTIME_S = 6;
export const N_MTIME_NS = 7;
export const N_CTIME_S = 8;
export const N_CTIME_NS = 9;
export const N_INODE = 10;
export const N_DEV = 11;
const NUMBERS = 12;

/** A key's value: a string, a whole number, a list of content ids, extended attributes (strings by name), or left to JSON.parse (a name or link target that is not UTF-8). */
const V = { Str: 0, Num: 1, Ids: 2, Attrs: 3, No: 4 } as const;

interface Key {
  bytes: Buffer;
  value: (typeof V)[keyof typeof V];
  /** Where its value is recorded: a string slot, a number slot, or -1 (checked, not recorded). */
  slot: number;
  /** Strings that may hold bytes above 0x7f (well-formed UTF-8). */
  utf8?: boolean;
  /** A decimal string also recorded as a number there: a time (two slots) or a whole number. */
  digits?: { slot: number; time: boolean };
}

const KEYS: Key[] = [
  { bytes: Buffer.from('name'), value: V.Str, slot: S_NAME, utf8: true },
  { bytes: Buffer.from('nameRaw'), value: V.No, slot: -1 },
  { bytes: Buffer.from('type'), value: V.Str, slot: S_TYPE },
  { bytes: Buffer.from('mode'), value: V.Num, slot: N_MODE },
  { bytes: Buffer.from('uid'), value: V.Num, slot: N_UID },
  { bytes: Buffer.from('gid'), value: V.Num, slot: N_GID },
  { bytes: Buffer.from('user'), value: V.Str, slot: S_USER, utf8: true },
  { bytes: Buffer.from('group'), value: V.Str, slot: S_GROUP, utf8: true },
  { bytes: Buffer.from('mtimeNs'), value: V.Str, slot: S_MTIME, digits: { slot: N_MTIME_S, time: true } },
  { bytes: Buffer.from('size'), value: V.Num, slot: N_SIZE },
  { bytes: Buffer.from('inode'), value: V.Str, slot: S_INODE, digits: { slot: N_INODE, time: false } },
  { bytes: Buffer.from('dev'), value: V.Str, slot: S_DEV, digits: { slot: N_DEV, time: false } },
  { bytes: Buffer.from('links'), value: V.Num, slot: N_LINKS },
  { bytes: Buffer.from('ctimeNs'), value: V.Str, slot: S_CTIME, digits: { slot: N_CTIME_S, time: true } },
  { bytes: Buffer.from('content'), value: V.Ids, slot: S_CONTENT },
  { bytes: Buffer.from('subtree'), value: V.Str, slot: -1 },
  { bytes: Buffer.from('target'), value: V.Str, slot: -1, utf8: true },
  { bytes: Buffer.from('targetRaw'), value: V.No, slot: -1 },
  { bytes: Buffer.from('linkTo'), value: V.Str, slot: -1 },
  { bytes: Buffer.from('rdev'), value: V.Str, slot: -1 },
  { bytes: Buffer.from('xattrs'), value: V.Attrs, slot: -1 },
];
/** The keys by length, in the order encodeTree writes them (the likely one is tried first). */
const BY_LENGTH: number[][] = [];
KEYS.forEach((k, id) => (BY_LENGTH[k.bytes.length] ??= []).push(id));

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const COMMA = 0x2c;
const OPEN = 0x7b;
const CLOSE = 0x7d;
const LIST = 0x5b;
const LIST_END = 0x5d;
const ZERO = 0x30;
const NINE = 0x39;
/** Digits a number may have: any whole number JSON.parse makes exactly. */
const MAX_DIGITS = 15;

/** Hex digit values, -1 for any other byte. */
const HEX = new Int8Array(256).fill(-1);
for (let c = 0; c < 10; c++) HEX[ZERO + c] = c;
for (let c = 0; c < 6; c++) HEX[0x61 + c] = HEX[0x41 + c] = 10 + c;

/**
 * The native core's scanner (native/tree-scan.c): `scanRun` in C, the same nodes accepted
 * and the same values recorded; the tests hold the two to each other.
 */
export type NativeScanRun = (data: Uint8Array, from: number, limit: number, strings: Uint32Array, numbers: Float64Array, ranges: Uint32Array, k: number) => number;

/** Where scanned nodes' values are put: node k's at k * STRINGS * 2, k * NUMBERS, and its text's [start, end) at 2k. */
export class NodeScan {
  strings = new Uint32Array(0);
  numbers = new Float64Array(0);
  ranges = new Uint32Array(0);

  constructor(private readonly native?: NativeScanRun) {}

  /** Room for `count` nodes, keeping what is recorded (and kept between trees: a worker scans one after another). */
  reserve(count: number): void {
    if (this.numbers.length >= count * NUMBERS) return;
    const n = Math.max(count, 64, 2 * (this.numbers.length / NUMBERS));
    const grown = <T extends Uint32Array | Float64Array>(a: T, make: (len: number) => T, per: number): T => {
      const b = make(n * per);
      b.set(a);
      return b;
    };
    this.strings = grown(this.strings, (l) => new Uint32Array(l), STRINGS * 2);
    this.numbers = grown(this.numbers, (l) => new Float64Array(l), NUMBERS);
    this.ranges = grown(this.ranges, (l) => new Uint32Array(l), 2);
  }

  /** How many nodes this scan has room for. */
  get capacity(): number {
    return this.numbers.length / NUMBERS;
  }

  /** scanRun here: in the native core when it has it. */
  run(data: Uint8Array, from: number, limit: number, k: number): number {
    return this.native ? this.native(data, from, limit, this.strings, this.numbers, this.ranges, k) : scanRun(data, from, limit, this, k);
  }

  start(k: number, slot: number): number {
    return this.strings[(k * STRINGS + slot) * 2]!;
  }

  end(k: number, slot: number): number {
    return this.strings[(k * STRINGS + slot) * 2 + 1]!;
  }

  has(k: number, slot: number): boolean {
    return this.strings[(k * STRINGS + slot) * 2 + 1]! !== 0;
  }

  num(k: number, slot: number): number {
    return this.numbers[k * NUMBERS + slot]!;
  }
}

/**
 * Scans the nodes of a tree's text from `from` (a node's `{`) on, as nodes k, k + 1, …: each
 * one scanNode accepts and that the tree's end (`limit`) or a comma and another node follows.
 * Stops at the first other one, or when `out` is full. Returns how many it scanned; their
 * texts' [start, end) are in out.ranges.
 */
export function scanRun(data: Uint8Array, from: number, limit: number, out: NodeScan, k: number): number {
  let got = 0;
  for (let at = from; at < limit && k + got < out.capacity; ) {
    const stop = scanNode(data, at, limit, out, k + got);
    if (stop < 0 || (stop !== limit && (data[stop] !== COMMA || stop + 1 >= limit))) break;
    out.ranges[2 * (k + got)] = at;
    out.ranges[2 * (k + got) + 1] = stop;
    got++;
    at = stop + 1;
  }
  return got;
}

/**
 * Scans the node whose text starts at `at` (its `{`) into `out` as node k, reading no
 * further than `limit`. Returns where its text ends (after its `}`), or -1 when the text is
 * not one the scanner accepts (nothing recorded for k is then to be read).
 */
export function scanNode(data: Uint8Array, at: number, limit: number, out: NodeScan, k: number): number {
  const s = k * STRINGS * 2;
  const n = k * NUMBERS;
  out.strings.fill(0, s, s + STRINGS * 2);
  out.numbers.fill(NaN, n, n + NUMBERS);
  if (at >= limit || data[at] !== OPEN) return -1;
  let p = at + 1;
  let seen = 0;
  for (;;) {
    // A key: one of KEYS, not seen before.
    if (p >= limit || data[p] !== QUOTE) return -1;
    const keyStart = p + 1;
    let q = keyStart;
    while (q < limit && data[q] !== QUOTE) q++;
    if (q + 1 >= limit || data[q + 1] !== COLON) return -1;
    const id = keyAt(data, keyStart, q);
    if (id < 0 || seen & (1 << id)) return -1;
    seen |= 1 << id;
    const key = KEYS[id]!;
    p = q + 2;
    switch (key.value) {
      case V.Str: {
        const e = stringEnd(data, p, limit, key.utf8 === true);
        if (e < 0) return -1;
        if (key.slot >= 0) {
          out.strings[s + key.slot * 2] = p + 1;
          out.strings[s + key.slot * 2 + 1] = e - 1;
        }
        if (key.digits) decimal(data, p + 1, e - 1, key.digits.time, out.numbers, n + key.digits.slot);
        p = e;
        break;
      }
      case V.Num: {
        let v = 0;
        let d = p;
        while (d < limit && data[d]! >= ZERO && data[d]! <= NINE) v = v * 10 + data[d++]! - ZERO;
        // Canonical: digits only (no sign, fraction or exponent: those JSON.parse decides), no leading zero.
        if (d === p || d - p > MAX_DIGITS || (data[p] === ZERO && d - p > 1)) return -1;
        out.numbers[n + key.slot] = v;
        p = d;
        break;
      }
      case V.Ids: {
        if (p >= limit || data[p] !== LIST) return -1;
        let d = p + 1;
        let count = 0;
        if (d < limit && data[d] === LIST_END) d++;
        else
          for (;;) {
            // "<64 hex digits>"
            if (d + 66 > limit || data[d] !== QUOTE || data[d + 65] !== QUOTE) return -1;
            for (let h = d + 1; h <= d + 64; h++) if (HEX[data[h]!]! < 0) return -1;
            count++;
            d += 66;
            if (d < limit && data[d] === COMMA) d++;
            else if (d < limit && data[d] === LIST_END) {
              d++;
              break;
            } else return -1;
          }
        out.strings[s + key.slot * 2] = p + 1;
        out.strings[s + key.slot * 2 + 1] = d - 1;
        out.numbers[n + N_IDS] = count;
        p = d;
        break;
      }
      case V.Attrs: {
        // {"name":"value",...}, strings both; never read here, only copied with the node.
        if (p >= limit || data[p] !== OPEN) return -1;
        let d = p + 1;
        if (d < limit && data[d] === CLOSE) d++;
        else
          for (;;) {
            d = stringEnd(data, d, limit, false);
            if (d < 0 || d >= limit || data[d] !== COLON) return -1;
            d = stringEnd(data, d + 1, limit, false);
            if (d < 0 || d >= limit) return -1;
            if (data[d] === COMMA) d++;
            else if (data[d] === CLOSE) {
              d++;
              break;
            } else return -1;
          }
        p = d;
        break;
      }
      default:
        return -1;
    }
    if (p >= limit) return -1;
    if (data[p] === COMMA) {
      p++;
      continue;
    }
    if (data[p] === CLOSE) return (seen & 1) === 0 ? -1 : p + 1;
    return -1;
  }
}

/**
 * A decimal string's number: canonical digits (no sign, no leading zero) of at most 15 digits
 * into numbers[at]; a time, canonical digits of which the seconds (all but the last nine) have
 * at most 15, into numbers[at] (seconds) and numbers[at + 1] (nanoseconds). Left NaN otherwise.
 */
function decimal(data: Uint8Array, from: number, to: number, time: boolean, numbers: Float64Array, at: number): void {
  const len = to - from;
  if (len === 0 || (data[from] === ZERO && len > 1)) return;
  for (let d = from; d < to; d++) if (data[d]! < ZERO || data[d]! > NINE) return;
  const value = (a: number, b: number) => {
    let v = 0;
    for (let d = a; d < b; d++) v = v * 10 + data[d]! - ZERO;
    return v;
  };
  if (!time) {
    if (len <= MAX_DIGITS) numbers[at] = value(from, to);
  } else if (len <= 9) {
    numbers[at] = 0;
    numbers[at + 1] = value(from, to);
  } else if (len - 9 <= MAX_DIGITS) {
    numbers[at] = value(from, to - 9);
    numbers[at + 1] = value(to - 9, to);
  }
}

/** The id of the key whose text is data[from, to), or -1. */
function keyAt(data: Uint8Array, from: number, to: number): number {
  const ids = BY_LENGTH[to - from];
  if (ids === undefined) return -1;
  next: for (const id of ids) {
    const b = KEYS[id]!.bytes;
    for (let i = 0; i < b.length; i++) if (data[from + i] !== b[i]) continue next;
    return id;
  }
  return -1;
}

/**
 * Where the string starting at `at` (its opening quote) ends, after its closing quote; -1
 * when it has an escape or a control character, or bytes above 0x7f (unless `utf8` and they
 * are well-formed UTF-8, which JSON.parse of the tree's UTF-8 text decodes to the same).
 */
function stringEnd(data: Uint8Array, at: number, limit: number, utf8: boolean): number {
  if (at >= limit || data[at] !== QUOTE) return -1;
  let high = false;
  for (let p = at + 1; p < limit; p++) {
    const c = data[p]!;
    if (c === QUOTE) {
      if (high && (!utf8 || !isUtf8(data.subarray(at + 1, p)))) return -1;
      return p + 1;
    }
    if (c < 0x20 || c === BACKSLASH) return -1;
    if (c > 0x7f) high = true;
  }
  return -1;
}

/** Whether data[from, to) holds exactly the characters of `text` (an ASCII string). */
export function textIs(data: Uint8Array, from: number, to: number, text: string): boolean {
  if (to - from !== text.length) return false;
  for (let i = 0; i < text.length; i++) if (data[from + i] !== text.charCodeAt(i)) return false;
  return true;
}

/** Writes the content ids of a scanned list (`"<hex>",...` between `from` and `to`) into `into` at `at`, 32 bytes each. */
export function idsInto(data: Uint8Array, from: number, to: number, into: Uint8Array, at: number): number {
  for (let p = from + 1; p < to; p += 67) {
    for (let h = 0; h < 32; h++) into[at + h] = (HEX[data[p + 2 * h]!]! << 4) | HEX[data[p + 2 * h + 1]!]!;
    at += 32;
  }
  return at;
}
