import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { freePort } from '../../../src/sources/throwaway.js';

/**
 * SeaweedFS (`weed mini`: master, volume server, filer and S3 gateway in one process, built
 * from the Go module proxy by scripts/seaweedfs.sh) on loopback, with the given buckets and one
 * identity: the real S3 server that the S3 tests and the S3 benchmark talk to. It checks
 * request signatures (a wrong secret is refused), answers ranged GETs, paginates listings and
 * takes multipart uploads the way S3 does.
 */
export interface Seaweed {
  endpoint: string;
  port: number;
  /** The environment a client needs: the identity's keys and a region. */
  env: Record<string, string>;
  /** The identity's keys (the secret is only ever in this test's memory and the server's config). */
  keys: { accessKey: string; secretKey: string };
  /** Stops it at once (SIGKILL to its process group). */
  kill(): void;
  stop(): Promise<void>;
}

/** The weed binary: STRONGBOX_SEAWEEDFS, or where scripts/seaweedfs.sh caches it; an error naming the fix when it is not built. */
export function seaweedBinary(): string {
  const bin = process.env.STRONGBOX_SEAWEEDFS ?? spawnSync('bash', [path.resolve(import.meta.dirname, '../../../../scripts/seaweedfs.sh'), '--path'], { encoding: 'utf8' }).stdout.trim();
  if (!bin || !existsSync(bin)) throw new Error(`SeaweedFS (${bin || 'weed'}) is missing: build it with scripts/seaweedfs.sh (.ci/run does)`);
  return bin;
}

const running = new Set<number>();
process.once('exit', () => {
  for (const pid of running) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
});

export async function startSeaweed(weed: string, dir: string, buckets: string[]): Promise<Seaweed> {
  await fs.mkdir(dir, { recursive: true });
  const keys = { accessKey: 'STRONGBOXTEST', secretKey: 'strongbox-test-secret-0123456789' };
  const config = path.join(dir, 's3.json');
  await fs.writeFile(config, JSON.stringify({ identities: [{ name: 'strongbox', credentials: [keys], actions: ['Admin', 'Read', 'Write', 'List', 'Tagging'] }] }));
  const names = ['master.port', 'master.port.grpc', 'volume.port', 'volume.port.grpc', 'filer.port', 'filer.port.grpc', 's3.port', 's3.port.grpc', 's3.port.iceberg', 'webdav.port', 'admin.port', 'admin.port.grpc'];
  const ports: Record<string, number> = {};
  for (const n of names) ports[n] = await freePort();
  const args = ['mini', `-dir=${path.join(dir, 'data')}`, '-ip=127.0.0.1', '-ip.bind=127.0.0.1', `-bucket=${buckets[0]}`, `-s3.config=${config}`, ...names.map((n) => `-${n}=${ports[n]}`)];
  await fs.mkdir(path.join(dir, 'data'), { recursive: true });
  const log = await fs.open(path.join(dir, 'weed.log'), 'w');
  const child = spawn(weed, args, { stdio: ['ignore', log.fd, log.fd], detached: true });
  running.add(child.pid!);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const port = ports['s3.port']!;
  const up = async () =>
    new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
  for (let i = 0; i < 600 && !(await up()); i++) await new Promise((r) => setTimeout(r, 100));
  const endpoint = `http://127.0.0.1:${port}`;
  const env = { AWS_ACCESS_KEY_ID: keys.accessKey, AWS_SECRET_ACCESS_KEY: keys.secretKey, AWS_REGION: 'us-east-1' };
  const { S3Client, HeadBucketCommand, CreateBucketCommand } = await import('@aws-sdk/client-s3');
  const s3 = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: keys.accessKey, secretAccessKey: keys.secretKey } });
  const kill = () => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      /* gone */
    }
    running.delete(child.pid!);
  };
  try {
    // The S3 gateway answers before the first bucket exists: wait until a request on it succeeds.
    let ready = false;
    for (let i = 0; i < 300 && !ready; i++) {
      ready = await s3.send(new HeadBucketCommand({ Bucket: buckets[0] })).then(() => true, () => false);
      if (!ready) await new Promise((r) => setTimeout(r, 200));
    }
    if (!ready) throw new Error(`SeaweedFS did not serve bucket ${buckets[0]} within a minute (${path.join(dir, 'weed.log')})`);
    for (const b of buckets.slice(1)) await s3.send(new CreateBucketCommand({ Bucket: b }));
  } catch (err) {
    kill();
    throw err;
  } finally {
    s3.destroy();
  }
  return {
    endpoint,
    port,
    env,
    keys,
    kill,
    stop: async () => {
      try {
        process.kill(-child.pid!, 'SIGTERM');
      } catch {
        /* gone */
      }
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10000))]);
      kill();
      await log.close();
    },
  };
}

/** Bytes and objects under a prefix of a bucket, through the S3 API (any server). */
export async function bucketUsage(endpoint: string, env: Record<string, string>, bucket: string, prefix: string): Promise<{ bytes: number; objects: number; keys: string[] }> {
  const { S3Client, ListObjectsV2Command } = await import('@aws-sdk/client-s3');
  const s3 = new S3Client({ endpoint, region: env.AWS_REGION ?? 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID!, secretAccessKey: env.AWS_SECRET_ACCESS_KEY! } });
  let bytes = 0;
  const keys: string[] = [];
  let token: string | undefined;
  try {
    do {
      const r = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ...(token ? { ContinuationToken: token } : {}) }));
      for (const o of r.Contents ?? []) {
        bytes += o.Size ?? 0;
        keys.push(o.Key!);
      }
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (token);
  } finally {
    s3.destroy();
  }
  return { bytes, objects: keys.length, keys };
}
