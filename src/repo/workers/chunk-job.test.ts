import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { createReferenceChunker, DEFAULT_CHUNKER } from '../chunker/fastcdc.js';
import { blobId } from '../crypto/aead.js';
import { ReferenceBlobCodec } from '../format/blob.js';
import { CodecPool } from './pool.js';

for (const lanes of [0, 2]) {
  test(`a file read and scanned a few MiB at a time has the cut points and ids of the whole file cut at once (${lanes ? `${lanes} lanes on libuv's threads, reading ahead` : 'on the worker'})`, async () => {
    const root = await fs.mkdtemp(path.join(os.tmpdir(), 'sb-chunkjob-'));
    const keys = { encrypt: randomBytes(32), mac: randomBytes(32) };
    const config = { compression: { level: 3 }, chunker: DEFAULT_CHUNKER, gearSeed: randomBytes(32).toString('hex') };
    const pool = new CodecPool(keys, config as never, 1, { lanes });
    try {
      // Text, random bytes, a zero run longer than the largest chunk (cut at the maximum), and more text.
      const data = Buffer.concat([
        Buffer.from('a line of a log file, with a number 12345\n'.repeat(80_000)),
        randomBytes(6 << 20),
        Buffer.alloc(11 << 20),
        randomBytes(3 << 20),
        Buffer.from('the end\n'.repeat(1000)),
      ]);
      const file = path.join(root, 'f');
      await fs.writeFile(file, data);
      const chunker = createReferenceChunker(DEFAULT_CHUNKER, Buffer.from(config.gearSeed, 'hex'));
      const expected: string[] = [];
      for (let at = 0; at < data.length; ) {
        const len = chunker.cut(data, at, data.length);
        expected.push(blobId(keys.mac, data.subarray(at, at + len)).toString('hex'));
        at += len;
      }
      // Every other chunk is new: its sealed blob must open to its bytes.
      const codec = new ReferenceBlobCodec(keys.encrypt, keys.mac, 3);
      const blobs: string[] = [];
      let n = 0;
      const got = await pool.chunkFile(Buffer.from(file), data.length, {
        onIds: async (ids) => ({ mask: ids.map(() => n++ % 2 === 0), abort: false }),
        onBlob: (id, sealed) => void blobs.push(blobId(keys.mac, codec.decode(sealed, id)).toString('hex')),
      });
      assert.equal(got.bytes, data.length);
      assert.deepEqual(blobs, expected.filter((_, i) => i % 2 === 0));
      assert.deepEqual(
        got.ids.map((id) => id.toString('hex')),
        expected,
      );
      assert.ok(expected.length >= 8, `${expected.length} chunks`);
    } finally {
      await pool.close();
      await fs.rm(root, { recursive: true, force: true });
    }
  });
}
