import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { open, seal } from './aead.js';
import { keyFileProblem, newMasterKey, unwrapMasterKey, wrapMasterKey } from './keys.js';
import { BlobCodec } from '../format/blob.js';

const fast = { N: 1 << 10, r: 8, p: 1 };

test('sealed objects open with the key and fail on any flipped bit', () => {
  const key = randomBytes(32);
  const sealed = seal(key, Buffer.from('secret payload'));
  assert.equal(open(key, sealed).toString(), 'secret payload');
  for (const i of [0, 13, sealed.length - 1]) {
    const bad = Buffer.from(sealed);
    bad[i]! ^= 1;
    assert.throws(() => open(key, bad), /failed authentication/);
  }
  assert.throws(() => open(randomBytes(32), sealed), /failed authentication/);
});

test('the master key unwraps only with its password', async () => {
  const mk = newMasterKey();
  const file = await wrapMasterKey(mk, 'correct horse', fast);
  assert.ok(!JSON.stringify(file).includes(mk.encrypt.toString('base64')));
  const got = await unwrapMasterKey(file, 'correct horse');
  assert.ok(got && got.encrypt.equals(mk.encrypt) && got.mac.equals(mk.mac));
  assert.equal(await unwrapMasterKey(file, 'wrong'), undefined);
});

test('blobs compress when it pays, stay raw when it does not, and verify their id', () => {
  const codec = new BlobCodec(randomBytes(32), randomBytes(32), 3);
  const text = Buffer.from('hello world '.repeat(10000));
  const rand = randomBytes(300_000);
  const et = codec.encode(text);
  const er = codec.encode(rand);
  assert.ok(et.length < text.length / 10);
  assert.ok(er.length <= rand.length + 29 && er.length >= rand.length);
  assert.deepEqual(codec.decode(et), text);
  assert.deepEqual(codec.decode(er), rand);
  assert.throws(() => codec.decode(er, randomBytes(32)), /does not match its id/);
});

test('key files from a repository are untrusted: KDF parameters outside a fixed range are refused before any work', async () => {
  const good = await wrapMasterKey(newMasterKey(), 'pw', fast);
  assert.equal(keyFileProblem(good), undefined);
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ N: 2 ** 30 }, /N=1073741824 is outside/],
    [{ N: 1000 }, /N=1000 is outside/],
    [{ r: 1e6 }, /r=1000000/],
    [{ p: 0 }, /p=0/],
    [{ N: 'x' }, /not integers/],
    [{ salt: 'AA==' }, /salt of an implausible length/],
    [{ kdf: 'argon2' }, /unsupported kdf/],
  ];
  for (const [change, why] of cases) {
    const bad = { ...good, ...change };
    assert.match(keyFileProblem(bad) ?? '', why);
    await assert.rejects(unwrapMasterKey(bad as never, 'pw'), /Unusable key file/);
  }
  assert.equal(keyFileProblem(null), 'not a JSON object');
});
