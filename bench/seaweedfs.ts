import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { freePort } from '../src/sources/throwaway.js';

/**
 * SeaweedFS (`weed mini`: master, volume server, filer and S3 gateway in one
 * process, built by scripts/bench-peers.sh) on loopback, with one bucket and
 * one identity: a real S3 server for the S3 scenario, which every tool talks to.
 */
export interface Seaweed {
  endpoint: string;
  port: number;
  env: Record<string, string>;
  stop(): Promise<void>;
}

export async function startSeaweed(weed: string, dir: string, bucket: string): Promise<Seaweed> {
  await fs.mkdir(dir, { recursive: true });
  const keys = { accessKey: 'benchkey', secretKey: 'bench-secret-key-0123456789' };
  const config = path.join(dir, 's3.json');
  await fs.writeFile(config, JSON.stringify({ identities: [{ name: 'bench', credentials: [keys], actions: ['Admin', 'Read', 'Write', 'List', 'Tagging'] }] }));
  const names = ['master.port', 'master.port.grpc', 'volume.port', 'volume.port.grpc', 'filer.port', 'filer.port.grpc', 's3.port', 's3.port.grpc', 's3.port.iceberg', 'webdav.port', 'admin.port', 'admin.port.grpc'];
  const ports: Record<string, number> = {};
  for (const n of names) ports[n] = await freePort();
  const args = ['mini', `-dir=${path.join(dir, 'data')}`, '-ip=127.0.0.1', '-ip.bind=127.0.0.1', `-bucket=${bucket}`, `-s3.config=${config}`, ...names.map((n) => `-${n}=${ports[n]}`)];
  await fs.mkdir(path.join(dir, 'data'), { recursive: true });
  const log = await fs.open(path.join(dir, 'weed.log'), 'w');
  const child = spawn(weed, args, { stdio: ['ignore', log.fd, log.fd], detached: true });
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
  // The S3 gateway answers before the bucket exists: wait until a request on the bucket succeeds.
  const endpoint = `http://127.0.0.1:${port}`;
  const env = { AWS_ACCESS_KEY_ID: keys.accessKey, AWS_SECRET_ACCESS_KEY: keys.secretKey, AWS_REGION: 'us-east-1' };
  const { S3Client, HeadBucketCommand } = await import('@aws-sdk/client-s3');
  const s3 = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: keys.accessKey, secretAccessKey: keys.secretKey } });
  let ready = false;
  for (let i = 0; i < 300 && !ready; i++) {
    ready = await s3.send(new HeadBucketCommand({ Bucket: bucket })).then(() => true, () => false);
    if (!ready) await new Promise((r) => setTimeout(r, 200));
  }
  s3.destroy();
  if (!ready) {
    child.kill('SIGKILL');
    throw new Error(`SeaweedFS did not serve bucket ${bucket} within a minute (${path.join(dir, 'weed.log')})`);
  }
  return {
    endpoint,
    port,
    env,
    stop: async () => {
      try {
        process.kill(-child.pid!, 'SIGTERM');
      } catch {
        /* gone */
      }
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10000))]);
      await log.close();
    },
  };
}

/** Bytes and objects under a prefix of a bucket, through the S3 API (any server). */
export async function bucketUsage(endpoint: string, env: Record<string, string>, bucket: string, prefix: string): Promise<{ bytes: number; objects: number }> {
  const { S3Client, ListObjectsV2Command } = await import('@aws-sdk/client-s3');
  const s3 = new S3Client({ endpoint, region: env.AWS_REGION ?? 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID!, secretAccessKey: env.AWS_SECRET_ACCESS_KEY! } });
  let bytes = 0;
  let objects = 0;
  let token: string | undefined;
  do {
    const r = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ...(token ? { ContinuationToken: token } : {}) }));
    for (const o of r.Contents ?? []) {
      bytes += o.Size ?? 0;
      objects++;
    }
    token = r.IsTruncated ? r.NextContinuationToken : undefined;
  } while (token);
  s3.destroy();
  return { bytes, objects };
}
