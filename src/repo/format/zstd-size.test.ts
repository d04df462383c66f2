import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Compressor } from 'zstd-napi';
import { BlobCodec, ENC_ZSTD, zstdContentSize } from './blob.js';
import { seal } from '../crypto/aead.js';
import { AppError } from '../../kernel/index.js';
import { randomBytes } from 'node:crypto';

test('zstd frames declare their size, and the reader finds it for every header form', () => {
  const c = new Compressor();
  c.setParameters({ compressionLevel: 3 });
  for (const n of [1, 10, 255, 256, 300, 65_791, 70_000, 5_000_000]) assert.equal(zstdContentSize(c.compress(Buffer.alloc(n, 7))), n);
  assert.equal(zstdContentSize(Buffer.from('not a frame')), undefined);
});

test('a blob whose zstd frame declares an absurd size is refused before it is decompressed (decompression bomb)', () => {
  const key = randomBytes(32);
  const mac = randomBytes(32);
  const codec = new BlobCodec(key, mac, 3);
  // A frame header claiming 2^40 bytes (FCS 8 bytes), then garbage.
  const frame = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0xe0, 0, 0, 0, 0, 0, 1, 0, 0, 1, 2, 3, 4]);
  const sealed = seal(key, [Uint8Array.of(ENC_ZSTD), frame]);
  assert.throws(() => codec.decode(sealed), (e: unknown) => e instanceof AppError && e.code === 'CORRUPT' && /absurd \(1099511627776 bytes\)/.test(e.message));
  // Normal blobs still round-trip.
  const data = Buffer.alloc(200_000, 3);
  assert.deepEqual(codec.decode(codec.encode(data)), data);
});
