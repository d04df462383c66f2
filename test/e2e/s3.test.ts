import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { backendConformance } from '../../src/storage/testing/conformance.js';
import { S3Backend, parseS3Location } from '../../src/storage/s3/s3-backend.js';
import { Cli, describeTree, tmp, waitExit, writeRandom } from './testing/cli.js';
import { startFaultProxy, startS3, type S3Server } from './testing/s3.js';
import { bucketUsage } from './testing/seaweedfs.js';

let s3: S3Server;
before(async () => {
  s3 = await startS3(['strongbox-test', 'other-data']);
});
after(async () => {
  await s3.stop();
});

const loc = (prefix: string, endpoint = s3.endpoint) => `s3://strongbox-test/${prefix}?endpoint=${encodeURIComponent(endpoint)}&region=us-east-1`;

backendConformance('s3 (SeaweedFS on loopback)', async () => new S3Backend(parseS3Location(loc(`conf-${randomBytes(6).toString('hex')}`)), { accessKeyId: s3.keys.accessKey, secretAccessKey: s3.keys.secretKey }));

// The same suite against any S3 endpoint: STRONGBOX_TEST_S3_LOCATION=s3://bucket/prefix?endpoint=…
// with the usual AWS_* credentials (a fresh prefix is used per test, under the given one).
const external = process.env.STRONGBOX_TEST_S3_LOCATION;
if (external) {
  backendConformance('s3 (external endpoint)', async () => {
    const l = parseS3Location(external);
    return new S3Backend({ ...l, prefix: `${l.prefix}conformance-${randomBytes(6).toString('hex')}/` });
  });
}

function s3Cli(location: string, extra: Record<string, string> = {}): Cli {
  const cli = new Cli(location);
  const base = cli.env.bind(cli);
  cli.env = (more = {}) => base({ ...s3.env, STRONGBOX_STORAGE_ATTEMPTS: '5', ...extra, ...more });
  return cli;
}

async function dataset(root: string): Promise<string> {
  const src = path.join(root, 'src');
  await writeRandom(path.join(src, 'big.bin'), 24 << 20, 3);
  for (let i = 0; i < 50; i++) await fs.writeFile(path.join(src, `f${i}.txt`), `file ${i} `.repeat(100 + i));
  return src;
}

test('s3: init, snapshot, incremental snapshot, restore and a full read-back check against a real S3 API server', async () => {
  const root = tmp();
  const src = await dataset(root);
  const cli = s3Cli(loc('repo-basic'));
  cli.init();
  const first = cli.json<{ id: string }>(['snapshot', 'create', '--path', src]);
  await fs.writeFile(path.join(src, 'f1.txt'), 'changed');
  const second = cli.json<{ id: string; summary: { newFiles: number; changedFiles: number } }>(['snapshot', 'create', '--path', src]);
  assert.equal(second.summary.changedFiles, 1);
  assert.notEqual(first.id, second.id);
  const out = path.join(root, 'out');
  cli.ok(['snapshot', 'restore', second.id, '--target', out]);
  assert.deepEqual(await describeTree(path.join(out, src)), await describeTree(src));
  assert.match(cli.ok(['repo', 'check', '--read-data']), /no errors were found/);
});

test('s3: injected 503s, SlowDowns, 500s and dropped connections are retried; the snapshot completes and checks clean', async () => {
  const root = tmp();
  const src = await dataset(root);
  const proxy = await startFaultProxy(s3.port, (n) => ({ fault: n % 4 === 0 ? (['503', 'slowdown', '500', 'drop'] as const)[(n / 4) % 4]! : 'pass', delayMs: n % 7 === 0 ? 150 : 0 }));
  try {
    const cli = s3Cli(loc('repo-faults', proxy.endpoint), { STRONGBOX_STORAGE_ATTEMPTS: '8' });
    // The proxy lives in this process: the CLI must run without blocking it.
    await cli.okAsync(['repo', 'init']);
    const r = await cli.runAsync(['snapshot', 'create', '--path', src]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /retrying in/);
    assert.ok(proxy.counts['503'] + proxy.counts.slowdown + proxy.counts['500'] + proxy.counts.drop >= 4, JSON.stringify(proxy.counts));
    const out = path.join(root, 'out');
    await cli.okAsync(['snapshot', 'restore', 'latest', '--target', out]);
    assert.deepEqual(await describeTree(path.join(out, src)), await describeTree(src));
    assert.match(await cli.okAsync(['repo', 'check', '--read-data']), /no errors were found/);
  } finally {
    await proxy.close();
  }
});

test('s3: a restore reads each pack in one streamed request; a response cut halfway resumes after its last byte', async () => {
  const root = tmp();
  const src = await dataset(root);
  const cli = s3Cli(loc('repo-stream'));
  cli.ok(['repo', 'init']);
  cli.ok(['snapshot', 'create', '--path', src]);
  const firstReads = new Map<string, number>();
  const proxy = await startFaultProxy(s3.port, (_n, req) => {
    const m = req.method === 'GET' ? /\/data\/([0-9a-f]{64})/.exec(req.url ?? '') : null;
    if (!m) return { fault: 'pass' };
    firstReads.set(m[1]!, (firstReads.get(m[1]!) ?? 0) + 1);
    // The first read of each pack loses its connection halfway through the body.
    return { fault: firstReads.get(m[1]!) === 1 ? 'cut' : 'pass' };
  });
  try {
    const remote = s3Cli(loc('repo-stream', proxy.endpoint));
    const out = path.join(root, 'out');
    const r = await remote.runAsync(['snapshot', 'restore', 'latest', '--target', out]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await describeTree(path.join(out, src)), await describeTree(src));
    assert.ok(proxy.counts.cut >= 1, JSON.stringify(proxy.counts));
    assert.match(r.stderr, /from byte \d+/);
    // One request per pack, and one more for its cut.
    assert.ok(firstReads.size >= 2, `${firstReads.size} packs read`);
    for (const [pack, n] of firstReads) assert.equal(n, 2, `pack ${pack.slice(0, 12)} was read in ${n} requests`);
  } finally {
    await proxy.close();
  }
});

test('s3: permanent errors fail fast with what is wrong: bad credentials, a missing bucket, a bucket that holds something else', async () => {
  const forbidden = await startFaultProxy(s3.port, () => ({ fault: 'forbidden' }));
  try {
    const t0 = Date.now();
    const r = await s3Cli(loc('repo-denied', forbidden.endpoint)).runAsync(['repo', 'init']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /S3 refused .*HTTP 403.*Check the credentials/);
    assert.ok(Date.now() - t0 < 5000, 'no retries for a permanent error');
    assert.equal(forbidden.counts.forbidden, 1);
  } finally {
    await forbidden.close();
  }
  // A wrong secret: the server's signature check refuses it, and nothing is retried.
  const wrong = await s3Cli(loc('repo-wrong-secret'), { AWS_SECRET_ACCESS_KEY: 'not-the-secret-at-all' }).runAsync(['repo', 'init']);
  assert.equal(wrong.code, 1, wrong.stderr);
  assert.match(wrong.stderr, /S3 refused .*HTTP 403.*Check the credentials/);
  assert.doesNotMatch(wrong.stderr, /not-the-secret-at-all/);
  const missing = s3Cli(`s3://no-such-bucket-here/x?endpoint=${encodeURIComponent(s3.endpoint)}`).run(['repo', 'init']);
  assert.equal(missing.code, 10);
  assert.match(missing.stderr, /The bucket "no-such-bucket-here" does not exist; create it first/);
  // A prefix that holds other things is not taken over.
  const foreign = new S3Backend(parseS3Location(`s3://other-data/?endpoint=${encodeURIComponent(s3.endpoint)}`), { accessKeyId: s3.keys.accessKey, secretAccessKey: s3.keys.secretKey });
  const { S3Client, PutObjectCommand } = await import('@aws-sdk/client-s3');
  const raw = new S3Client({ endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: s3.keys.accessKey, secretAccessKey: s3.keys.secretKey } });
  await raw.send(new PutObjectCommand({ Bucket: 'other-data', Key: 'photos/cat.jpg', Body: 'meow' }));
  raw.destroy();
  await foreign.close();
  const taken = s3Cli(`s3://other-data/?endpoint=${encodeURIComponent(s3.endpoint)}`).run(['repo', 'init']);
  assert.equal(taken.code, 1);
  assert.match(taken.stderr, /is not empty \(it holds photos\/cat\.jpg\) and is not a Strongbox repository/);
  const notRepo = s3Cli(`s3://other-data/?endpoint=${encodeURIComponent(s3.endpoint)}`).run(['snapshot', 'list']);
  assert.equal(notRepo.code, 10);
});

test('s3: the server goes away mid-snapshot: the snapshot fails cleanly; when it is back the repository checks clean and the next snapshot reuses the data', async () => {
  // The outage is made at the network: every connection dropped, as when a link or a load balancer goes.
  let down = false;
  const proxy = await startFaultProxy(s3.port, () => ({ fault: down ? 'drop' : 'pass' }));
  try {
    const root = tmp();
    const src = path.join(root, 'src');
    // 256 MiB in packs of 4 MiB: on S3 an index file follows every 32 packs, so the outage comes after the first.
    for (let i = 0; i < 4; i++) await writeRandom(path.join(src, `${i}.bin`), 64 << 20, 9 + i);
    const cli = s3Cli(loc('outage', proxy.endpoint), { STRONGBOX_STORAGE_ATTEMPTS: '3' });
    await cli.okAsync(['repo', 'init', '--pack-size', '4']);
    const p = cli.spawn(['snapshot', 'create', '--path', src]);
    const done = waitExit(p);
    // Wait until an index file (written every 32 packs on S3) is stored, then cut the server off.
    const until = Date.now() + 30_000;
    for (;;) {
      const { objects } = await bucketUsage(s3.endpoint, s3.env, 'strongbox-test', 'outage/index/');
      if (objects >= 1 || Date.now() > until) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    down = true;
    const r = await done;
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /S3 request failed .*gave up after 3 attempts/i);
    down = false;
    assert.deepEqual(JSON.parse(await cli.okAsync(['snapshot', 'list', '--json'])), [], 'no half-visible snapshot');
    assert.match(await cli.okAsync(['repo', 'check', '--read-data']), /no errors were found/);
    const next = JSON.parse(await cli.okAsync(['snapshot', 'create', '--path', src, '--json'])) as { summary: { newBytes: number; bytes: number } };
    // What was indexed before the outage is reused; the rest is sent again (prune removes the unindexed leftovers).
    assert.ok(next.summary.newBytes < next.summary.bytes * 0.95, `${next.summary.newBytes} of ${next.summary.bytes} sent again`);
    await cli.okAsync(['repo', 'prune']);
    assert.match(await cli.okAsync(['repo', 'check', '--read-data']), /no errors were found/);
  } finally {
    await proxy.close();
  }
});

test('s3: a destination in a bucket: added with --init, validated step by step, used by default; a failing step is named', async () => {
  const { instanceCli } = await import('./testing/cli.js');
  const root = tmp();
  const cli = instanceCli(root, 'dest-password');
  const base = cli.env.bind(cli);
  cli.env = (more = {}) => base({ ...s3.env, STRONGBOX_STORAGE_ATTEMPTS: '2', ...more });
  const location = loc('dest-repo');
  const added = cli.json<{ validation: { steps: string[] } }>(['destination', 'add', 'cloud', location, '--init']);
  assert.deepEqual(added.validation.steps, ['opened the repository with the password', 'wrote a test object (a lock)', 'listed it', 'read it back', 'deleted it']);
  await fs.writeFile(path.join(root, 'f.txt'), 'to the cloud');
  const snap = cli.json<{ id: string }>(['snapshot', 'create', '--path', path.join(root, 'f.txt')]);
  assert.deepEqual(cli.json<{ id: string }[]>(['snapshot', 'list']).map((s) => s.id), [snap.id]);
  // Writes refused (a read-only policy): validation names the step that failed.
  const readOnly = await startFaultProxy(s3.port, (_n, req) => ({ fault: req.method === 'PUT' ? 'forbidden' : 'pass' }));
  try {
    const r = await cli.runAsync(['destination', 'add', 'ro', loc('dest-repo', readOnly.endpoint)]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /failed at "wrote a test object \(a lock\)" \(after: opened the repository with the password\): S3 refused writing/);
  } finally {
    await readOnly.close();
  }
});

test('s3: credentials stored with the destination (sealed) are used without any AWS environment, and never stored in plain text', async () => {
  const { instanceCli, listFiles } = await import('./testing/cli.js');
  // The server checks every signature; the proxy counts what gets through (the AWS variables are unset).
  const guard = await startFaultProxy(s3.port, () => ({ fault: 'pass' }));
  try {
    const root = tmp();
    const cli = instanceCli(root, 'dest-password');
    const base = cli.env.bind(cli);
    cli.env = (more = {}) => {
      const env = base({ STRONGBOX_STORAGE_ATTEMPTS: '2', S3_SECRET_FOR_ADD: s3.keys.secretKey, ...more });
      for (const k of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_PROFILE']) delete env[k];
      return env;
    };
    const location = loc('stored-creds', guard.endpoint);
    const added = JSON.parse(await cli.okAsync(['destination', 'add', 'vault', location, '--init', '--access-key-id', s3.keys.accessKey, '--secret-from-env', 'S3_SECRET_FOR_ADD', '--json'])) as { credentials: string };
    assert.match(added.credentials, new RegExp(`s3-secret-access-key for ${s3.keys.accessKey}, stored \\(encrypted`));
    await fs.writeFile(path.join(root, 'f.txt'), 'x');
    const r = await cli.runAsync(['snapshot', 'create', '--path', path.join(root, 'f.txt')], { S3_SECRET_FOR_ADD: '' });
    assert.equal(r.code, 0, r.stderr);
    for (const f of await listFiles(path.join(root, 'home'))) assert.ok(!(await fs.readFile(path.join(root, 'home', f))).includes(s3.keys.secretKey), f);
    assert.ok(guard.counts.pass > 0);
  } finally {
    await guard.close();
  }
});

test('s3: objects over 64 MiB go up by multipart upload and read back exactly', async () => {
  const b = new S3Backend(parseS3Location(loc(`multipart-${randomBytes(4).toString('hex')}`)), { accessKeyId: s3.keys.accessKey, secretAccessKey: s3.keys.secretKey });
  try {
    await b.create();
    const data = randomBytes(70 * 1024 * 1024);
    const h = { kind: 'data' as const, name: randomBytes(32).toString('hex') };
    await b.put(h, [data.subarray(0, 1000), data.subarray(1000)]);
    assert.equal((await b.stat(h)).size, data.length);
    assert.deepEqual(await b.get(h, { offset: 69 * 1024 * 1024, length: 4096 }), data.subarray(69 * 1024 * 1024, 69 * 1024 * 1024 + 4096));
    assert.ok((await b.get(h)).equals(data));
  } finally {
    await b.close();
  }
});

test('s3: the local cache spares an incremental snapshot one request per directory, index file and manifest; a damaged cache entry is read from the store again', async () => {
  const root = tmp();
  const src = path.join(root, 'src');
  for (let d = 0; d < 40; d++) {
    await fs.mkdir(path.join(src, `d${d}`), { recursive: true });
    await fs.writeFile(path.join(src, `d${d}`, 'f.txt'), `dir ${d}\n`.repeat(50));
  }
  let gets = 0;
  let metaGets = 0;
  const proxy = await startFaultProxy(s3.port, (_n, req) => {
    if (req.method === 'GET' && /\/data\//.test(req.url ?? '')) gets++;
    if (req.method === 'GET' && /\/(index|snapshots)\/[0-9a-f]{64}/.test(req.url ?? '')) metaGets++;
    return { fault: 'pass' };
  });
  try {
    const cacheDir = path.join(root, 'cache');
    const cli = s3Cli(loc('cached', proxy.endpoint), { STRONGBOX_CACHE_DIR: cacheDir });
    await cli.okAsync(['repo', 'init']);
    await cli.okAsync(['snapshot', 'create', '--path', src]);
    gets = 0;
    metaGets = 0;
    await cli.okAsync(['snapshot', 'create', '--path', src]);
    const cachedGets = gets;
    const cachedMetaGets = metaGets;
    gets = 0;
    metaGets = 0;
    await cli.okAsync(['snapshot', 'create', '--path', src], { STRONGBOX_CACHE_DIR: 'off' });
    const uncachedGets = gets;
    const uncachedMetaGets = metaGets;
    assert.ok(uncachedGets >= 40, `without the cache every directory's tree is a request (${uncachedGets})`);
    assert.ok(cachedGets <= 2, `with the cache the parent's trees cost no request (${cachedGets})`);
    // Two snapshots before it: their index files and manifests, each a request without the cache.
    assert.ok(uncachedMetaGets >= 4, `without the cache every index file and manifest is a request (${uncachedMetaGets})`);
    assert.equal(cachedMetaGets, 0, 'with the cache the index files and manifests this machine wrote cost no request');
    // A snapshot forgotten elsewhere leaves the cache when the store no longer lists it.
    const snapsDir = (await fs.readdir(cacheDir)).map((d) => path.join(cacheDir, d, 'snapshots'))[0]!;
    assert.equal((await fs.readdir(snapsDir)).length, 2);
    const first = JSON.parse(await cli.okAsync(['snapshot', 'list', '--json'])).at(0).id as string;
    await cli.okAsync(['snapshot', 'delete', first], { STRONGBOX_CACHE_DIR: 'off' });
    await cli.okAsync(['snapshot', 'list']);
    assert.ok(!(await fs.readdir(snapsDir)).includes(first), 'the deleted snapshot left the cache');
    // Damage every cached tree: they are refetched, and the results are right.
    const { readdir, writeFile } = fs;
    const walk = async (d: string): Promise<string[]> => (await Promise.all((await readdir(d, { withFileTypes: true })).map((e) => (e.isDirectory() ? walk(path.join(d, e.name)) : [path.join(d, e.name)])))).flat();
    for (const f of await walk(cacheDir)) await writeFile(f, Buffer.alloc((await fs.stat(f)).size, 0));
    const out = path.join(root, 'out');
    await cli.okAsync(['snapshot', 'restore', 'latest', '--target', out]);
    assert.deepEqual(await describeTree(path.join(out, src)), await describeTree(src));
  } finally {
    await proxy.close();
  }
});

test('s3: an HTTPS endpoint with a private CA (ca=FILE) and server-side-encryption headers (sse=AES256); an untrusted certificate is refused with the fix', async () => {
  const { execFileSync } = await import('node:child_process');
  const { createServer } = await import('node:https');
  const { request } = await import('node:http');
  const root = tmp();
  const key = path.join(root, 'key.pem');
  const cert = path.join(root, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  let puts = 0;
  let encrypted = 0;
  // A TLS front for the S3 server that records the encryption header of every upload.
  const tls = createServer({ key: await fs.readFile(key), cert: await fs.readFile(cert) }, (req, res) => {
    if (req.method === 'PUT') {
      puts++;
      if (req.headers['x-amz-server-side-encryption'] === 'AES256') encrypted++;
    }
    const up = request({ host: '127.0.0.1', port: s3.port, method: req.method, path: req.url, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    req.pipe(up);
  });
  await new Promise<void>((r) => tls.listen(0, '127.0.0.1', () => r()));
  const port = (tls.address() as { port: number }).port;
  try {
    const endpoint = `https://127.0.0.1:${port}`;
    const good = s3Cli(`s3://strongbox-test/tls?endpoint=${encodeURIComponent(endpoint)}&ca=${encodeURIComponent(cert)}&sse=AES256`);
    await good.okAsync(['repo', 'init']);
    await fs.writeFile(path.join(root, 'f.txt'), 'over TLS');
    await good.okAsync(['snapshot', 'create', '--path', path.join(root, 'f.txt')]);
    assert.ok(puts > 0 && encrypted === puts, `every upload asked for server-side encryption (${encrypted}/${puts})`);
    const untrusted = await s3Cli(`s3://strongbox-test/tls?endpoint=${encodeURIComponent(endpoint)}`).runAsync(['snapshot', 'list']);
    assert.equal(untrusted.code, 1);
    assert.match(untrusted.stderr, /TLS certificate is not trusted .*give that CA's certificate with ca=FILE/);
  } finally {
    tls.closeAllConnections();
    await new Promise<void>((r) => tls.close(() => r()));
  }
});
