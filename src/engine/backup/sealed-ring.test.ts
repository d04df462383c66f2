import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { BlobSaver, CodecPool, Repository } from '../../repo/index.js';
import { LocalBackend } from '../../storage/local/local-backend.js';

test("sealed blobs go through each worker's ring many times over, and every one is stored intact", async () => {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'sb-ring-'));
  const repo = await Repository.init(new LocalBackend(path.join(root, 'repo')), 'pw', { scrypt: { N: 1024, r: 8, p: 1 } });
  const pool = new CodecPool(repo.master, repo.config, 2, { recycles: true });
  try {
    // 40 MiB in pieces that compress and pieces that do not (five times the 8 MiB ring of a worker), and small files.
    const big: Buffer[] = [];
    for (let i = 0; i < 2; i++) {
      const parts: Buffer[] = [];
      for (let k = 0; k < 20; k++) parts.push(k % 2 ? randomBytes(1 << 20) : Buffer.from(`file ${i} part ${k} `.repeat(60_000)).subarray(0, 1 << 20));
      big.push(Buffer.concat(parts));
      await fs.writeFile(path.join(root, `big${i}`), big[i]!);
    }
    const small = Array.from({ length: 300 }, (_, i) => (i % 3 ? randomBytes(1000 + i * 100) : Buffer.from(`small ${i} `.repeat(500))));
    for (const [i, s] of small.entries()) await fs.writeFile(path.join(root, `s${i}`), s);

    const saver = new BlobSaver(repo, pool);
    let inRing = 0;
    let ringBytes = 0;
    const add = (id: Buffer, sealed: Buffer, raw: number) => {
      if (sealed.buffer instanceof SharedArrayBuffer) {
        inRing++;
        ringBytes += sealed.length;
      }
      saver.addSealed('data', id, sealed, raw);
    };
    const files = await Promise.all(
      big.map((_, i) =>
        pool.chunkFile(Buffer.from(path.join(root, `big${i}`)), big[i]!.length, {
          onIds: async (ids) => {
            const mask = ids.map((id) => saver.claim(id));
            await saver.room();
            return { mask, abort: false };
          },
          onBlob: add,
        }),
      ),
    );
    const smallResults = [];
    for (let i = 0; i < small.length; i += 50) {
      const batch = await pool.chunkSmall(
        small.slice(i, i + 50).map((_, k) => Buffer.from(path.join(root, `s${i + k}`))),
        (ids) => ids.map((id) => saver.claim(id)),
      );
      for (const r of batch) {
        assert.ok(r.ok);
        if (r.sealed) add(Buffer.from(r.id), Buffer.from(r.sealed.buffer, r.sealed.byteOffset, r.sealed.byteLength), r.rawLength);
        smallResults.push(r);
      }
      await saver.room();
    }
    await saver.flush();
    assert.ok(inRing > 100, `blobs sealed into the rings: ${inRing}`);
    assert.ok(ringBytes > 2 * 8 * 1024 * 1024, `${ringBytes} bytes went through two 8 MiB rings: more than they hold, so their space was used again`);

    // Read back from the packs on the disk: a blob whose ring space was sealed into again before it was written would not open.
    for (const [i, f] of files.entries()) {
      const back = Buffer.concat(await Promise.all(f.ids.map((id) => repo.loadBlob(id))));
      assert.ok(back.equals(big[i]!), `big file ${i} comes back whole`);
    }
    for (const [i, r] of smallResults.entries()) {
      assert.ok(r.ok);
      assert.ok((await repo.loadBlob(r.id)).equals(small[i]!), `small file ${i}`);
    }
  } finally {
    await pool.close();
    await fs.rm(root, { recursive: true, force: true });
  }
});
