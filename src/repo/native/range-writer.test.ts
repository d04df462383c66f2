import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { DEFAULT_CHUNKER } from '../chunker/fastcdc.js';
import { blobId } from '../crypto/aead.js';
import { ReferenceBlobCodec } from '../format/blob.js';
import { CodecPool, type BlobWriter, type RestoreItem, type RestoreOutcome } from '../workers/pool.js';
import { nativeCore } from './core.js';
import { nativeRangeWriter } from './range-writer.js';

/**
 * The native range writer (restoreRange on libuv's threads) against the reference, the
 * workers' restoreJob: the same ranges and targets given to each, in directories of their own,
 * must give the same outcomes (messages included) and the same files — contents, holes, sizes,
 * modes and times — and neither may write through a link, into a FIFO, or outside its names.
 */
const keys = { encrypt: randomBytes(32), mac: randomBytes(32) };
const config = { compression: { level: 3 }, chunker: DEFAULT_CHUNKER, gearSeed: randomBytes(32).toString('hex') };
const ref = new ReferenceBlobCodec(keys.encrypt, keys.mac, 3);

interface Blob {
  raw: Buffer;
  sealed: Buffer;
  id: Buffer;
}
function blob(raw: Buffer): Blob {
  return { raw, sealed: ref.encode(raw), id: blobId(keys.mac, raw) };
}

/** A range: the sealed blobs back to back, with a few bytes between them as in a pack. */
function range(blobs: Blob[]): { data: Buffer; offs: number[] } {
  const parts: Buffer[] = [];
  const offs: number[] = [];
  let at = 0;
  for (const b of blobs) {
    parts.push(Buffer.alloc(7, 0xee));
    at += 7;
    offs.push(at);
    parts.push(b.sealed);
    at += b.sealed.length;
  }
  return { data: Buffer.concat(parts), offs };
}

const text = Buffer.from('INSERT INTO notes VALUES (1, "a note about nothing in particular");\n'.repeat(20_000));
const random = randomBytes(300_000);
/** 64 KiB segments: random, zeros, zeros, random — the middle must stay a hole. */
const holey = Buffer.concat([randomBytes(65536), Buffer.alloc(131072), randomBytes(1000)]);

type Case = { name: string; run: (w: BlobWriter, dir: string) => Promise<RestoreOutcome[]> };
const whole = (size: number, mode = 0o640) => ({ size, mode, uid: process.getuid!(), gid: process.getgid!(), chown: false, mtimeSec: 1_600_000_000.123456 });
const p = (dir: string, name: string) => new Uint8Array(Buffer.from(path.join(dir, name)));
const item = (b: Blob, off: number, targets: RestoreItem['targets'], what = 'data blob x in pack y'): RestoreItem => ({ off, len: b.sealed.length, id: new Uint8Array(b.id), what, targets });

const cases: Case[] = [
  {
    name: 'whole files (zstd, raw, holes) and parts of one file',
    run: async (w, dir) => {
      const bs = [blob(text), blob(random), blob(holey), blob(Buffer.from('tail'))];
      fs.writeFileSync(path.join(dir, 'multi'), '');
      const { data, offs } = range(bs);
      return w.writeRange(data, [
        item(bs[0]!, offs[0]!, [{ path: p(dir, 'text'), offset: 0, create: whole(text.length) }, { path: p(dir, 'multi'), offset: 0 }]),
        item(bs[1]!, offs[1]!, [{ path: p(dir, 'random'), offset: 0, create: whole(random.length + 10, 0o600) }]),
        item(bs[2]!, offs[2]!, [{ path: p(dir, 'holey'), offset: 0, create: whole(holey.length) }, { path: p(dir, 'multi'), offset: text.length }]),
        item(bs[3]!, offs[3]!, [{ path: p(dir, 'multi'), offset: text.length + holey.length }]),
      ]);
    },
  },
  {
    name: 'a damaged blob, a blob under the wrong id, a range cut short',
    run: async (w, dir) => {
      const bs = [blob(Buffer.from('good one')), blob(Buffer.from('damaged')), blob(Buffer.from('wrong id')), blob(Buffer.from('after'))];
      const { data, offs } = range(bs);
      data[offs[1]! + 20]! ^= 1;
      const wrong = item(bs[2]!, offs[2]!, [{ path: p(dir, 'c'), offset: 0, create: whole(8) }]);
      wrong.id = new Uint8Array(bs[0]!.id);
      return w.writeRange(data.subarray(0, data.length - 3), [
        item(bs[0]!, offs[0]!, [{ path: p(dir, 'a'), offset: 0, create: whole(8) }], 'data blob 1 in pack p'),
        item(bs[1]!, offs[1]!, [{ path: p(dir, 'b'), offset: 0, create: whole(7) }], 'data blob 2 in pack p'),
        wrong,
        item(bs[3]!, offs[3]!, [{ path: p(dir, 'd'), offset: 0, create: whole(5) }], 'data blob 4 in pack p'),
      ]);
    },
  },
  {
    name: 'targets that are not new regular files: an existing file, a symbolic link, a FIFO, a missing directory',
    run: async (w, dir) => {
      const bs = [blob(Buffer.from('one')), blob(Buffer.from('two')), blob(Buffer.from('three')), blob(Buffer.from('four')), blob(Buffer.from('five'))];
      fs.writeFileSync(path.join(dir, 'exists'), 'keep me');
      fs.mkdirSync(path.join(dir, 'outside'));
      fs.writeFileSync(path.join(dir, 'outside', 'victim'), 'untouched');
      fs.symlinkSync(path.join(dir, 'outside', 'victim'), path.join(dir, 'link'));
      execFileSync('mkfifo', [path.join(dir, 'fifo')]);
      const { data, offs } = range(bs);
      return w.writeRange(data, [
        item(bs[0]!, offs[0]!, [{ path: p(dir, 'exists'), offset: 0, create: whole(3) }]),
        item(bs[1]!, offs[1]!, [{ path: p(dir, 'link'), offset: 0, create: whole(3) }]),
        item(bs[2]!, offs[2]!, [{ path: p(dir, 'link'), offset: 0 }]),
        item(bs[3]!, offs[3]!, [{ path: p(dir, 'fifo'), offset: 0 }]),
        item(bs[4]!, offs[4]!, [{ path: p(dir, 'no/such'), offset: 0, create: whole(4) }]),
      ]);
    },
  },
  {
    name: 'two blobs that claim the same bytes (a crafted index)',
    run: async (w, dir) => {
      const b = blob(text.subarray(0, 100_000));
      const { data, offs } = range([b]);
      return w.writeRange(data, [item(b, offs[0]!, [{ path: p(dir, 'x'), offset: 0, create: whole(100_000) }]), item(b, offs[0]!, [{ path: p(dir, 'y'), offset: 0, create: whole(100_000) }])]);
    },
  },
];

/** Everything about the files under dir that a restore promises (times where the restore set them: files written now differ by when). */
const started = BigInt(Date.now() - 60_000) * 1_000_000n;
function describe(dir: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const walk = (d: string) => {
    for (const name of fs.readdirSync(d).sort()) {
      const full = path.join(d, name);
      const st = fs.lstatSync(full, { bigint: true });
      const rel = path.relative(dir, full);
      if (st.isDirectory()) walk(full);
      else if (st.isFile()) out[rel] = { mode: Number(st.mode), size: Number(st.size), mtimeNs: st.mtimeNs < started ? st.mtimeNs.toString() : 'now', blocks: Number(st.blocks), sha: hash(fs.readFileSync(full)) };
      else out[rel] = { kind: st.isSymbolicLink() ? `link to ${path.relative(dir, fs.readlinkSync(full))}` : 'other', mode: Number(st.mode) };
    }
  };
  walk(dir);
  return out;
}
function hash(b: Buffer): string {
  return blobId(Buffer.alloc(32), b).toString('hex').slice(0, 16);
}

test('restoreRange writes what the workers write, and refuses what they refuse', { skip: !nativeCore()?.restoreRange && 'the native core is not built (core.test.ts fails for that)' }, async () => {
  const native = nativeRangeWriter(keys, config as never)!;
  const pool = new CodecPool(keys, config as never, 1);
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-range-writer-'));
  try {
    for (const c of cases) {
      const a = path.join(root, 'native', c.name.slice(0, 20));
      const b = path.join(root, 'workers', c.name.slice(0, 20));
      fs.mkdirSync(a, { recursive: true });
      fs.mkdirSync(b, { recursive: true });
      const got = (await c.run(native, a)).map((o) => (o.ok ? o : { ok: false, message: o.message.replaceAll(a, 'DIR') }));
      const want = (await c.run(pool, b)).map((o) => (o.ok ? o : { ok: false, message: o.message.replaceAll(b, 'DIR') }));
      assert.deepEqual(got, want, c.name);
      assert.deepEqual(describe(a), describe(b), c.name);
    }
    const first = path.join(root, 'native', cases[0]!.name.slice(0, 20));
    assert.ok(fs.readFileSync(path.join(first, 'text')).equals(text));
    assert.ok(fs.readFileSync(path.join(first, 'multi')).equals(Buffer.concat([text, holey, Buffer.from('tail')])));
    // The zero segments are a hole: one random segment and the 1,000 bytes after the hole take blocks.
    assert.ok(fs.statSync(path.join(first, 'holey')).blocks * 512 <= 65536 + 8192, 'the holey file is not sparse');
    assert.equal(fs.statSync(path.join(first, 'text')).mtimeMs, 1_600_000_000_123.456);
    const refused = path.join(root, 'native', cases[2]!.name.slice(0, 20));
    assert.equal(fs.readFileSync(path.join(refused, 'outside', 'victim'), 'utf8'), 'untouched');
    assert.equal(fs.readFileSync(path.join(refused, 'exists'), 'utf8'), 'keep me');
    const outcomes = await cases[1]!.run(native, fs.mkdtempSync(path.join(root, 'again-')));
    assert.deepEqual(
      outcomes.map((o) => o.ok),
      [true, false, false, false],
    );
  } finally {
    await pool.close();
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('restoreRange refuses a path with a NUL byte and a malformed plan, and keeps its codec to itself while it runs', { skip: !nativeCore()?.restoreRange && 'the native core is not built' }, async () => {
  const core = nativeCore()!;
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-range-writer-'));
  try {
    const b = blob(Buffer.from('nul'));
    // Each call decrypts its range in place: every call gets a copy of its own.
    const { data: sealed, offs } = range([b]);
    const data = Buffer.from(sealed);
    fs.writeFileSync(path.join(root, 'a'), '');
    const nul = new Uint8Array(Buffer.concat([Buffer.from(path.join(root, 'a')), Buffer.from([0]), Buffer.from('b')]));
    const [o] = await nativeRangeWriter(keys, config as never)!.writeRange(data, [item(b, offs[0]!, [{ path: nul, offset: 0, create: whole(3) }])]);
    assert.deepEqual(o, { ok: false, message: "the restore target's path is empty, too long or holds a NUL byte" });
    assert.equal(fs.readFileSync(path.join(root, 'a'), 'utf8'), '');
    const { encodePlan } = await import('./range-writer.js');
    const codec = core.codec(keys.encrypt, keys.mac, 3, new Uint8Array(1024), 1, 1, 1);
    const plan = encodePlan([item(b, offs[0]!, [{ path: p(root, 'c'), offset: 0, create: whole(3) }])]);
    assert.throws(() => core.restoreRange!(codec, Buffer.from(sealed), plan.subarray(0, plan.length - 1)), /malformed plan/);
    const running = core.restoreRange!(codec, Buffer.from(sealed), plan);
    assert.throws(() => core.id(codec, Buffer.from('x')), /in use by work in progress/);
    assert.deepEqual(await running, [{ ok: true, rawLength: 3 }]);
    assert.equal(core.id(codec, Buffer.from('x')).length, 32);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('many ranges at once share a few codecs and each lands whole', { skip: !nativeCore()?.restoreRange && 'the native core is not built' }, async () => {
  const { NativeRangeWriter } = await import('./range-writer.js');
  const core = nativeCore()!;
  const w = new NativeRangeWriter(core as never, keys, config as never, 2);
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-range-writer-'));
  try {
    const blobs = Array.from({ length: 40 }, (_, i) => blob(Buffer.concat([Buffer.from(`file ${i} `), text.subarray(0, 10_000 * (i + 1))])));
    const all = await Promise.all(
      blobs.map((b, i) => {
        const { data, offs } = range([b]);
        return w.writeRange(data, [item(b, offs[0]!, [{ path: p(root, `f${i}`), offset: 0, create: whole(b.raw.length) }])]);
      }),
    );
    assert.ok(all.every(([o]) => o!.ok));
    blobs.forEach((b, i) => assert.ok(fs.readFileSync(path.join(root, `f${i}`)).equals(b.raw)));
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('a lazy pool starts no worker until its first job (a restore of files needs none)', async () => {
  const threads = () => fs.readdirSync('/proc/self/task').length;
  await fs.promises.stat('/'); // libuv's threads start with the first file operation: before counting
  const before = threads();
  const pool = new CodecPool(keys, config as never, 2, { lazy: true });
  try {
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(threads(), before, 'a lazy pool started threads before any job');
    const b = blob(Buffer.from('decoded on a worker'));
    assert.ok((await pool.decode(b.sealed, b.id, 'blob')).equals(b.raw));
    assert.ok(threads() >= before + 2, 'the first job started the workers');
  } finally {
    await pool.close();
  }
});
