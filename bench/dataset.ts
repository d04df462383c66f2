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

/**
 * The many-files dataset: `count` small text files (200 B – 2.2 KiB, each its own bytes) in
 * 1,000 directories of up to 1,000 — mail spools, thumbnails, a package cache. What it
 * measures is the cost per file and per directory, not per byte.
 */
export async function generateMany(dir: string, count: number): Promise<{ files: number; bytes: number }> {
  await fs.rm(dir, { recursive: true, force: true });
  const rng = new Stream('strongbox-bench-many-v1');
  const perDir = 1000;
  let bytes = 0;
  for (let d = 0; d * perDir < count; d++) {
    const sub = path.join(dir, `d${String(d).padStart(4, '0')}`);
    await fs.mkdir(sub, { recursive: true });
    const n = Math.min(perDir, count - d * perDir);
    const sizes = Array.from({ length: n }, () => 200 + rng.int(2048));
    const text = textLines(rng, sizes.reduce((a, b) => a + b, 0), 'text');
    let off = 0;
    const writes: Promise<void>[] = [];
    for (let i = 0; i < n; i++) {
      writes.push(fs.writeFile(path.join(sub, `m${i}.txt`), text.subarray(off, off + sizes[i]!)));
      off += sizes[i]!;
    }
    await Promise.all(writes);
    bytes += off;
  }
  return { files: count, bytes };
}

/** A day on the many-files dataset: 1 % of the files rewritten, 0.1 % deleted, one new directory of 1,000. */
export async function mutateMany(dir: string): Promise<void> {
  const rng = new Stream('strongbox-bench-many-mutate-v1');
  const dirs = (await fs.readdir(dir)).sort();
  for (let d = 0; d < dirs.length; d++) {
    const sub = path.join(dir, dirs[d]!);
    const names = (await fs.readdir(sub)).sort();
    for (let i = d % 100; i < names.length; i += 100) await fs.writeFile(path.join(sub, names[i]!), textLines(rng, 200 + rng.int(2048), 'text'));
    for (let i = 7 + (d % 1000); i < names.length; i += 1000) await fs.rm(path.join(sub, names[i]!));
  }
  await fs.mkdir(path.join(dir, 'new'), { recursive: true });
  for (let i = 0; i < 1000; i++) await fs.writeFile(path.join(dir, 'new', `m${i}.txt`), textLines(rng, 200 + rng.int(2048), 'text'));
}

const BIG_REGION = 16 << 20;

/**
 * The big-file dataset: one disk image of `totalBytes` (a VM's disk, a database's data file)
 * in 16 MiB regions that cycle through random bytes, SQL text and zeros — a third each.
 */
export async function generateBig(dir: string, totalBytes: number): Promise<{ files: number; bytes: number }> {
  await fs.rm(dir, { recursive: true, force: true });
  const rng = new Stream('strongbox-bench-big-v1');
  let pos = 0;
  await writeChunked(path.join(dir, 'vm', 'disk.img'), totalBytes, (n) => {
    const out = Buffer.alloc(n);
    for (let o = 0; o < n; ) {
      const at = pos + o;
      const k = Math.min(n - o, BIG_REGION - (at % BIG_REGION));
      const region = Math.floor(at / BIG_REGION) % 3;
      if (region === 0) rng.bytes(k).copy(out, o);
      else if (region === 1) textLines(rng, k, 'sql').copy(out, o);
      o += k;
    }
    pos += n;
    return out;
  });
  return { files: 1, bytes: totalBytes };
}

/**
 * A day on the big file: four 16 MiB regions spread over the image rewritten in place. Returns
 * what puts the file back as generated (the benchmark runs each tool on the same bytes, one
 * tool at a time, so that only one tool's repository and restore are on the disk at once).
 */
export async function mutateBig(dir: string): Promise<() => Promise<void>> {
  const rng = new Stream('strongbox-bench-big-mutate-v1');
  const file = path.join(dir, 'vm', 'disk.img');
  const fh = await fs.open(file, 'r+');
  const saved: [number, Buffer][] = [];
  try {
    const { size } = await fh.stat();
    for (let i = 1; i <= 4; i++) {
      const at = Math.floor((size * i) / 5 / BIG_REGION) * BIG_REGION;
      const old = Buffer.alloc(BIG_REGION);
      const { bytesRead } = await fh.read(old, 0, BIG_REGION, at);
      saved.push([at, old.subarray(0, bytesRead)]);
      await fh.write(rng.bytes(bytesRead), 0, bytesRead, at);
    }
  } finally {
    await fh.close();
  }
  return async () => {
    const back = await fs.open(file, 'r+');
    try {
      for (const [at, old] of saved) await back.write(old, 0, old.length, at);
    } finally {
      await back.close();
    }
  };
}
