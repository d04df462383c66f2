import { createCipheriv, createHash } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';

/**
 * A deterministic dataset shaped like an application's state: a compressible
 * database dump, many small text files, medium incompressible files (media,
 * archives) and a large disk image with zero regions. Same seed, same bytes.
 */
export interface DatasetPlan {
  totalBytes: number;
}

class Stream {
  private readonly cipher;
  constructor(seed: string) {
    const key = createHash('sha256').update(seed).digest();
    this.cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  }
  bytes(n: number): Buffer {
    return this.cipher.update(Buffer.alloc(n));
  }
  int(max: number): number {
    return this.bytes(4).readUInt32LE(0) % max;
  }
}

const WORDS = 'alpha beta gamma delta epsilon invoice customer order shipped pending refund amount total berlin paris tokyo lorem ipsum dolor sit amet status active archived'.split(' ');

function textLines(rng: Stream, bytes: number, kind: 'sql' | 'text'): Buffer {
  const parts: string[] = [];
  let n = 0;
  let id = rng.int(1000);
  while (n < bytes) {
    const r = rng.bytes(8);
    const line =
      kind === 'sql'
        ? `INSERT INTO orders (id, customer, amount, status, created) VALUES (${id++}, 'customer-${r.readUInt16LE(0)}', ${r.readUInt16LE(2) / 100}, '${WORDS[r[4]! % WORDS.length]}', '2026-${1 + (r[5]! % 12)}-${1 + (r[6]! % 28)} 12:${r[7]! % 60}:00');\n`
        : `${WORDS[r[0]! % WORDS.length]} ${WORDS[r[1]! % WORDS.length]} ${r.readUInt32LE(2)} ${WORDS[r[6]! % WORDS.length]} ${WORDS[r[7]! % WORDS.length]}\n`;
    parts.push(line);
    n += line.length;
  }
  return Buffer.from(parts.join('')).subarray(0, bytes);
}

async function writeChunked(file: string, total: number, gen: (n: number) => Buffer): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  const fh = await fs.open(file, 'w');
  try {
    let done = 0;
    while (done < total) {
      const n = Math.min(8 << 20, total - done);
      await fh.write(gen(n));
      done += n;
    }
  } finally {
    await fh.close();
  }
}

export async function generate(dir: string, totalBytes: number): Promise<{ files: number; bytes: number }> {
  await fs.rm(dir, { recursive: true, force: true });
  const rng = new Stream('strongbox-bench-v1');
  let files = 0;
  let bytes = 0;
  // 30 %: a database dump (compressible, and where inserts shift everything after them).
  const dump = Math.floor(totalBytes * 0.3);
  await writeChunked(path.join(dir, 'db/dump.sql'), dump, (n) => textLines(rng, n, 'sql'));
  files++;
  bytes += dump;
  // 10 %: many small text files (4–12 KiB) in nested directories.
  const smallTotal = Math.floor(totalBytes * 0.1);
  for (let done = 0, i = 0; done < smallTotal; i++) {
    const n = 4096 + rng.int(8192);
    const f = path.join(dir, 'uploads', `d${i % 50}`, `e${Math.floor(i / 50) % 20}`, `note-${i}.txt`);
    await fs.mkdir(path.dirname(f), { recursive: true });
    await fs.writeFile(f, textLines(rng, n, 'text'));
    done += n;
    files++;
    bytes += n;
  }
  // 30 %: medium incompressible files (1–8 MiB).
  const medTotal = Math.floor(totalBytes * 0.3);
  for (let done = 0, i = 0; done < medTotal; i++) {
    const n = Math.min(medTotal - done, (1 << 20) + rng.int(7 << 20));
    await writeChunked(path.join(dir, 'media', `video-${i}.bin`), n, (k) => rng.bytes(k));
    done += n;
    files++;
    bytes += n;
  }
  // 30 %: a disk image: random regions separated by zero regions.
  const img = Math.floor(totalBytes * 0.3);
  let pos = 0;
  await writeChunked(path.join(dir, 'vm/disk.img'), img, (n) => {
    const out = Buffer.alloc(n);
    for (let o = 0; o < n; o += 1 << 20) {
      const region = Math.floor((pos + o) / (16 << 20)) % 3;
      if (region === 0) rng.bytes(Math.min(1 << 20, n - o)).copy(out, o);
    }
    pos += n;
    return out;
  });
  files++;
  bytes += img;
  return { files, bytes };
}

/** A realistic day of changes: rewritten and added small files, bytes inserted mid-dump, a changed image region, deletions. */
export async function mutate(dir: string): Promise<void> {
  const rng = new Stream('strongbox-bench-mutate-v1');
  const dumpPath = path.join(dir, 'db/dump.sql');
  const dump = await fs.stat(dumpPath);
  // Insert 4 KiB in the middle of the dump, streaming so memory stays small.
  const tmp = dumpPath + '.new';
  const src = await fs.open(dumpPath, 'r');
  const dst = await fs.open(tmp, 'w');
  const mid = Math.floor(dump.size / 2);
  const buf = Buffer.allocUnsafe(8 << 20);
  let off = 0;
  while (off < dump.size) {
    if (off === mid || (off < mid && off + buf.length > mid)) {
      const n = mid - off;
      if (n > 0) {
        await src.read(buf, 0, n, off);
        await dst.write(buf.subarray(0, n));
        off += n;
      }
      await dst.write(textLines(rng, 4096, 'sql'));
    }
    const { bytesRead } = await src.read(buf, 0, Math.min(buf.length, off < mid ? mid - off : buf.length), off);
    if (bytesRead === 0) break;
    await dst.write(buf.subarray(0, bytesRead));
    off += bytesRead;
  }
  await src.close();
  await dst.close();
  await fs.rename(tmp, dumpPath);
  // Rewrite 5 % of the small files, delete 1 %, add 200 new ones.
  const uploads = path.join(dir, 'uploads');
  const all: string[] = [];
  for (const d of await fs.readdir(uploads)) for (const e of await fs.readdir(path.join(uploads, d))) for (const f of await fs.readdir(path.join(uploads, d, e))) all.push(path.join(uploads, d, e, f));
  all.sort();
  for (let i = 0; i < all.length; i += 20) await fs.writeFile(all[i]!, textLines(rng, 4096 + rng.int(8192), 'text'));
  for (let i = 7; i < all.length; i += 100) await fs.rm(all[i]!);
  for (let i = 0; i < 200; i++) {
    const f = path.join(uploads, 'new', `added-${i}.txt`);
    await fs.mkdir(path.dirname(f), { recursive: true });
    await fs.writeFile(f, textLines(rng, 4096 + rng.int(8192), 'text'));
  }
  // Overwrite 8 MiB in the middle of the disk image.
  const img = await fs.open(path.join(dir, 'vm/disk.img'), 'r+');
  const st = await img.stat();
  await img.write(rng.bytes(8 << 20), 0, 8 << 20, Math.floor(st.size / 2));
  await img.close();
  // One new medium file.
  await writeChunked(path.join(dir, 'media', 'new-video.bin'), 5 << 20, (k) => rng.bytes(k));
}
