import { Transform, type TransformCallback } from 'node:stream';

/** What the parser asks of the bytes: n of them to read, or n to pass over. */
type Want = { read: number } | { skip: number };
type Parser = Generator<Want, Outcome, Buffer | undefined>;
type Outcome = { ok: true } | { ok: false; why: string };

// Opcodes and value types of the RDB format (Redis 2.x to 7.2; rdb.h).
const OP = { FUNCTION2: 0xf5, FUNCTION_PRE_GA: 0xf6, MODULE_AUX: 0xf7, IDLE: 0xf8, FREQ: 0xf9, AUX: 0xfa, RESIZEDB: 0xfb, EXPIRETIME_MS: 0xfc, EXPIRETIME: 0xfd, SELECTDB: 0xfe, EOF: 0xff };
const BLOB_TYPES = new Set([0, 9, 10, 11, 12, 13, 16, 17, 20]); // a string, or one encoded blob (ziplist, intset, listpack, zipmap)

/**
 * Counts the keys per database of an RDB stream as it passes, so the counts
 * recorded with a Redis backup are exactly those of the snapshot Redis forked
 * for it. Values are passed over, never held: memory stays a few bytes
 * whatever the data set. A layout it does not know (module types, hash field
 * expiry of Redis 7.4, a future version) gives no counts rather than wrong ones.
 */
export class RdbKeyCounter {
  private readonly counts = new Map<number, number>();
  private readonly parser: Parser;
  private want: Want;
  private held: Buffer[] = [];
  private heldBytes = 0;
  private outcome: Outcome | undefined;

  constructor() {
    this.parser = this.parse();
    this.want = this.step(undefined);
  }

  feed(b: Buffer): void {
    let off = 0;
    while (this.outcome === undefined && off < b.length) {
      if ('skip' in this.want) {
        const k = Math.min(this.want.skip, b.length - off);
        off += k;
        this.want = { skip: this.want.skip - k };
        if (this.want.skip === 0) this.want = this.step(undefined);
        continue;
      }
      const need = this.want.read - this.heldBytes;
      const k = Math.min(need, b.length - off);
      this.held.push(b.subarray(off, off + k));
      this.heldBytes += k;
      off += k;
      if (this.heldBytes === this.want.read) {
        const got = this.held.length === 1 ? this.held[0]! : Buffer.concat(this.held);
        this.held = [];
        this.heldBytes = 0;
        this.want = this.step(Buffer.from(got));
      }
    }
  }

  private step(input: Buffer | undefined): Want {
    let r: IteratorResult<Want, Outcome>;
    try {
      r = this.parser.next(input as Buffer);
    } catch (err) {
      // A malformed stream is the restore's and the drill's to find: here it only means no counts.
      this.outcome = { ok: false, why: `the RDB could not be read: ${(err as Error).message}` };
      return { skip: 0 };
    }
    if (r.done) {
      this.outcome = r.value;
      return { skip: 0 };
    }
    if ('skip' in r.value && r.value.skip === 0) return this.step(undefined);
    return r.value;
  }

  /** Keys per database ("db0" …), or why there are none: the stream ended early or holds what is not counted here. */
  result(): { counts: Map<string, number> } | { why: string } {
    if (!this.outcome) return { why: 'the RDB stream ended before its end marker' };
    if (!this.outcome.ok) return { why: this.outcome.why };
    return { counts: new Map([...this.counts].filter(([, n]) => n > 0).map(([db, n]) => [`db${db}`, n])) };
  }

  transform(): Transform {
    return new Transform({
      transform: (chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) => {
        this.feed(chunk);
        cb(null, chunk);
      },
    });
  }

  private *parse(): Parser {
    const head = yield { read: 9 };
    if (head!.subarray(0, 5).toString('latin1') !== 'REDIS') return { ok: false, why: 'not an RDB (no REDIS header)' };
    const version = Number(head!.subarray(5).toString('latin1'));
    if (!(version >= 1 && version <= 11)) return { ok: false, why: `RDB version ${head!.subarray(5).toString('latin1')} is not one counted here` };
    let db = 0;
    for (;;) {
      const type = (yield { read: 1 })![0]!;
      switch (type) {
        case OP.EOF:
          return { ok: true };
        case OP.SELECTDB:
          db = yield* this.len();
          continue;
        case OP.RESIZEDB:
          yield* this.len();
          yield* this.len();
          continue;
        case OP.AUX:
          yield* this.str();
          yield* this.str();
          continue;
        case OP.EXPIRETIME:
          yield { skip: 4 };
          continue;
        case OP.EXPIRETIME_MS:
          yield { skip: 8 };
          continue;
        case OP.FREQ:
          yield { skip: 1 };
          continue;
        case OP.IDLE:
          yield* this.len();
          continue;
        case OP.FUNCTION2:
          yield* this.str();
          continue;
        case OP.MODULE_AUX:
        case OP.FUNCTION_PRE_GA:
          return { ok: false, why: `the RDB holds module or early function data (opcode ${type})` };
      }
      yield* this.str(); // the key
      const known = yield* this.value(type);
      if (!known) return { ok: false, why: `the RDB holds a value of type ${type} (a module type, or newer than this Strongbox)` };
      this.counts.set(db, (this.counts.get(db) ?? 0) + 1);
    }
  }

  /** Passes over one value; false for a type not known here. */
  private *value(type: number): Generator<Want, boolean, Buffer | undefined> {
    if (BLOB_TYPES.has(type)) {
      yield* this.str();
      return true;
    }
    switch (type) {
      case 1: // list
      case 2: // set
      case 14: // quicklist of ziplists
        for (let n = yield* this.len(); n > 0; n--) yield* this.str();
        return true;
      case 3: // zset, scores as text
        for (let n = yield* this.len(); n > 0; n--) {
          yield* this.str();
          const l = (yield { read: 1 })![0]!;
          if (l < 253) yield { skip: l };
        }
        return true;
      case 4: // hash
        for (let n = yield* this.len(); n > 0; n--) {
          yield* this.str();
          yield* this.str();
        }
        return true;
      case 5: // zset, binary scores
        for (let n = yield* this.len(); n > 0; n--) {
          yield* this.str();
          yield { skip: 8 };
        }
        return true;
      case 18: // quicklist of listpacks
        for (let n = yield* this.len(); n > 0; n--) {
          yield* this.len();
          yield* this.str();
        }
        return true;
      case 15: // streams
      case 19:
      case 21:
        for (let n = yield* this.len(); n > 0; n--) {
          yield* this.str();
          yield* this.str();
        }
        yield* this.lens(3); // length, last id
        if (type >= 19) yield* this.lens(5); // first id, max deleted id, entries added
        for (let groups = yield* this.len(); groups > 0; groups--) {
          yield* this.str();
          yield* this.lens(2);
          if (type >= 19) yield* this.len();
          for (let pel = yield* this.len(); pel > 0; pel--) {
            yield { skip: 24 };
            yield* this.len();
          }
          for (let consumers = yield* this.len(); consumers > 0; consumers--) {
            yield* this.str();
            yield { skip: type >= 21 ? 16 : 8 };
            for (let pel = yield* this.len(); pel > 0; pel--) yield { skip: 16 };
          }
        }
        return true;
      default:
        return false;
    }
  }

  private *lens(n: number): Generator<Want, void, Buffer | undefined> {
    for (let i = 0; i < n; i++) yield* this.len();
  }

  /** A length (6-, 14-, 32- or 64-bit); a special encoding here is a format error. */
  private *len(): Generator<Want, number, Buffer | undefined> {
    const r = yield* this.lenOrEncoding();
    if ('enc' in r) throw new Error('a special encoding where a length belongs');
    return r.len;
  }

  private *lenOrEncoding(): Generator<Want, { len: number } | { enc: number }, Buffer | undefined> {
    const b = (yield { read: 1 })![0]!;
    switch (b >> 6) {
      case 0:
        return { len: b & 0x3f };
      case 1:
        return { len: ((b & 0x3f) << 8) | (yield { read: 1 })![0]! };
      case 2:
        if (b === 0x80) return { len: (yield { read: 4 })!.readUInt32BE(0) };
        if (b === 0x81) return { len: Number((yield { read: 8 })!.readBigUInt64BE(0)) };
        throw new Error(`unknown length byte ${b}`);
      default:
        return { enc: b & 0x3f };
    }
  }

  /** Passes over one string: plain, an integer, or LZF-compressed. */
  private *str(): Generator<Want, void, Buffer | undefined> {
    const r = yield* this.lenOrEncoding();
    if ('len' in r) {
      yield { skip: r.len };
      return;
    }
    if (r.enc === 0) yield { skip: 1 };
    else if (r.enc === 1) yield { skip: 2 };
    else if (r.enc === 2) yield { skip: 4 };
    else if (r.enc === 3) {
      const clen = yield* this.len();
      yield* this.len();
      yield { skip: clen };
    } else throw new Error(`unknown string encoding ${r.enc}`);
  }
}
