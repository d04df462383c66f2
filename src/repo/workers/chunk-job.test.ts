import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { createReferenceChunker, DEFAULT_CHUNKER } from '../chunker/fastcdc.js';
import { blobId } from '../crypto/aead.js';
import { CodecPool } from './pool.js';

test('a file read and scanned a few MiB at a time has the cut points and ids of the whole file cut at once', async () => {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'sb-chunkjob-'));
  const keys = { encrypt: randomBytes(32), mac: randomBytes(32) };
  const config = { compression: { level: 3 }, chunker: DEFAULT_CHUNKER, gearSeed: randomBytes(32).toString('hex') };
  const pool = new CodecPool(keys, config as never, 1);
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
    // Twice: the second run reads into the buffer the first left, whose far end the zero run
    // touched and the worker then gave back to the kernel (native release).
    for (let round = 0; round < 2; round++) {
      const got = await pool.chunkFile(Buffer.from(file), data.length, { onIds: async (ids) => ({ mask: ids.map(() => false), abort: false }), onBlob: () => undefined });
      assert.equal(got.bytes, data.length);
      assert.deepEqual(
        got.ids.map((id) => id.toString('hex')),
        expected,
      );
    }
    assert.ok(expected.length >= 8, `${expected.length} chunks`);
  } finally {
    await pool.close();
    await fs.rm(root, { recursive: true, force: true });
  }
});
