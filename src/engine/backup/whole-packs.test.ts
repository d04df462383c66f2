import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { BlobSaver, blobId, CodecPool, Repository } from '../../repo/index.js';
import { LocalBackend } from '../../storage/local/local-backend.js';

test('on a store that takes whole packs, every pack is written from the one kept buffer and holds exactly its blobs', async () => {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'sb-saver-'));
  // A local directory that, like S3, takes packs only whole (no streamed writer).
  const store = new LocalBackend(path.join(root, 'repo'));
  Object.defineProperty(store, 'createWriter', { value: undefined });
  const repo = await Repository.init(store, 'pw', { packSize: 1 << 20, scrypt: { N: 1024, r: 8, p: 1 } });
  assert.equal(repo.streamsPackWrites, false);
  const pool = new CodecPool(repo.master, repo.config, 1);
  const blobs = Array.from({ length: 90 }, (_, i) => (i % 3 ? randomBytes(20_000 + i * 1_500) : Buffer.from(`blob ${i} `.repeat(9_000))));
  try {
    const saver = new BlobSaver(repo, pool);
    for (const b of blobs) await saver.save('data', blobId(repo.master.mac, b), b);
    await saver.flush();
  } finally {
    await pool.close();
  }
  const again = await Repository.open(store, 'pw');
  await again.loadIndex();
  const packs = [];
  for await (const p of again.packs()) packs.push(p);
  assert.ok(packs.length >= 5, `several packs, so the buffer was reused (${packs.length})`);
  // Each pack's own header lists what the index says is in it, and every blob reads back.
  let listed = 0;
  for (const p of packs) listed += (await again.readPackHeader(p.name, p.size)).length;
  assert.equal(listed, blobs.length);
  for (const b of blobs) assert.ok((await again.loadBlob(blobId(again.master.mac, b))).equals(b));
});
