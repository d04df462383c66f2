import { Transform, type TransformCallback } from 'node:stream';

const LOCK = Buffer.from('LOCK TABLES `');
const UNLOCK = Buffer.from('UNLOCK TABLES;');
const CREATE = Buffer.from('CREATE TABLE `');
const INSERT = Buffer.from('INSERT INTO `');
const PREFIX_MAX = 256;
const QUOTE = 0x27; // '
const BACKSLASH = 0x5c;
const OPEN = 0x28; // (
const CLOSE = 0x29; // )
const SEMI = 0x3b;
const NL = 0x0a;

/**
 * Counts the rows of each table in a mariadb-dump/mysqldump SQL stream as it
 * passes, so the counts recorded with a backup are exactly those of the dump
 * (its own transaction), not a second look at a live server. Rows are counted
 * only in a table's data section (between `LOCK TABLES` and `UNLOCK TABLES`,
 * which the dump writes around every table's INSERTs), so an INSERT in a
 * trigger or routine body is never taken for data; tables created and never
 * filled count 0. A dump without those sections (--skip-add-locks) gives no
 * counts rather than wrong ones.
 */
export class DumpRowCounter {
  private readonly counts = new Map<string, number>();
  private line: number[] | null = []; // the start of the current line (null: not of interest, skip to its end)
  private locked: string | null = null;
  private sawLock = false;
  private sawInsertOutside = false;
  private untrusted = false;
  // Inside an INSERT's VALUES: the table, paren depth, whether in a quoted string, and whether the next byte is escaped.
  private insert: string | null = null;
  private depth = 0;
  private quoted = false;
  private escaped = false;

  feed(b: Buffer): void {
    let i = 0;
    const n = b.length;
    while (i < n) {
      if (this.insert !== null) {
        const table = this.insert;
        let rows = 0;
        let { depth, quoted, escaped } = this;
        for (; i < n; i++) {
          const c = b[i]!;
          if (escaped) escaped = false;
          else if (quoted) {
            if (c === BACKSLASH) escaped = true;
            else if (c === QUOTE) quoted = false;
          } else if (c === QUOTE) quoted = true;
          else if (c === OPEN) {
            if (depth === 0) rows++;
            depth++;
          } else if (c === CLOSE) depth--;
          else if (c === SEMI && depth === 0) {
            i++;
            this.insert = null;
            this.line = null;
            break;
          }
        }
        this.depth = depth;
        this.quoted = quoted;
        this.escaped = escaped;
        this.counts.set(table, (this.counts.get(table) ?? 0) + rows);
        continue;
      }
      if (this.line === null) {
        const e = b.indexOf(NL, i);
        if (e < 0) return;
        i = e + 1;
        this.line = [];
        continue;
      }
      const c = b[i++]!;
      if (c === NL) {
        this.line = this.endLine() ?? [];
        continue;
      }
      this.line.push(c);
      const l = this.line;
      if (l.length === INSERT.length + 1 || l.length === PREFIX_MAX) {
        // Only lines that may start a statement of interest are kept beyond their first bytes.
        const head = Buffer.from(l);
        if (!(startsWith(head, INSERT) || startsWith(head, LOCK) || startsWith(head, CREATE) || startsWith(head, UNLOCK))) {
          // Rows written some other way (REPLACE, INSERT IGNORE, INSERT … (columns)) cannot be counted here: no counts, rather than wrong ones.
          if (this.locked !== null && /^(INSERT|REPLACE)/i.test(head.toString('latin1'))) this.untrusted = true;
          this.line = null;
          continue;
        }
      }
      if (l.length > INSERT.length && startsWith(Buffer.from(l.slice(0, INSERT.length)), INSERT)) {
        // INSERT INTO `name` VALUES (…): once the name's closing backtick and " VALUES " are in, the values follow.
        const text = Buffer.from(l).toString('utf8');
        const m = /^INSERT INTO `((?:[^`]|``)+)` (.*)$/s.exec(text);
        if (m && m[2] === 'VALUES ') this.startInsert(m[1]!);
        else if ((m && !'VALUES '.startsWith(m[2]!)) || l.length >= PREFIX_MAX) {
          // INSERT … (columns) VALUES, or something longer: not a layout counted here.
          if (this.locked !== null) this.untrusted = true;
          else this.sawInsertOutside = true;
          this.line = null;
        }
      }
    }
  }

  /** VALUES seen (at the end of its line, as MariaDB 10.11 writes, or inline): the rows follow, if the table is the one whose data this is. */
  private startInsert(quotedName: string): void {
    const table = quotedName.replace(/``/g, '`');
    if (this.locked === table) {
      this.insert = table;
      this.depth = 0;
      this.quoted = false;
      this.escaped = false;
    } else {
      this.sawInsertOutside = true;
      this.line = null;
    }
  }

  private endLine(): number[] | null | undefined {
    const text = Buffer.from(this.line!).toString('utf8');
    const ins = /^INSERT INTO `((?:[^`]|``)+)` VALUES\s*$/.exec(text);
    if (ins) {
      this.startInsert(ins[1]!);
      return this.insert === null ? null : [];
    }
    let m = /^LOCK TABLES `((?:[^`]|``)+)` WRITE;/.exec(text);
    if (m) {
      this.locked = m[1]!.replace(/``/g, '`');
      this.sawLock = true;
      return undefined;
    }
    if (text.startsWith('UNLOCK TABLES;')) {
      this.locked = null;
      return undefined;
    }
    m = /^CREATE TABLE `((?:[^`]|``)+)` \(/.exec(text);
    if (m) {
      const t = m[1]!.replace(/``/g, '`');
      if (!this.counts.has(t)) this.counts.set(t, 0);
    }
    return undefined;
  }

  /** Rows per table, or undefined when the dump's layout does not allow a trustworthy count. */
  result(): Map<string, number> | undefined {
    if (this.insert !== null || this.untrusted || (!this.sawLock && this.sawInsertOutside)) return undefined;
    return new Map(this.counts);
  }

  /** A pass-through stream that counts what flows through it. */
  transform(): Transform {
    return new Transform({
      transform: (chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) => {
        this.feed(chunk);
        cb(null, chunk);
      },
    });
  }
}

function startsWith(b: Buffer, prefix: Buffer): boolean {
  const n = Math.min(b.length, prefix.length);
  return b.subarray(0, n).equals(prefix.subarray(0, n)) && (b.length >= prefix.length || n === b.length);
}
