/**
 * A forger of hostile input: archives whose seals and checksums are right (the
 * attacker holds the archive's password) but whose trees and manifests say
 * whatever an attacker wants. Used by the hostile-archive suite and the fuzzer.
 */
import { ArchiveWriter } from '../../../src/storage/archive/archive.js';
import { BlobSaver, blobId, CodecPool, Repository } from '../../../src/repo/index.js';
import type { Snapshot, TreeNode } from '../../../src/tree/index.js';

export interface Forge {
  repo: Repository;
  saver: BlobSaver;
  /** Stores bytes as a data blob; its id (hex). */
  data(bytes: Buffer | string): Promise<string>;
  /** Stores nodes as a tree blob in the order given (no sorting, duplicates kept); its id (hex). */
  tree(nodes: TreeNode[]): Promise<string>;
}

/** A node with the usual defaults; `name` may be raw bytes (stored as nameRaw when not UTF-8). */
export function node(name: string | Buffer, type: TreeNode['type'], extra: Partial<TreeNode> = {}): TreeNode {
  const bytes = typeof name === 'string' ? Buffer.from(name) : name;
  const text = bytes.toString('utf8');
  return { name: text, ...(Buffer.from(text).equals(bytes) ? {} : { nameRaw: bytes.toString('base64') }), type, mode: type === 'dir' ? 0o755 : 0o644, uid: 0, gid: 0, mtimeNs: '0', ...extra };
}

export function manifest(tree: string, extra: Partial<Snapshot> = {}): Snapshot {
  return { version: 1, time: new Date().toISOString(), host: 'evil', username: 'evil', paths: ['/x'], tags: [], tree, partial: false, warnings: [], warningCount: 0, summary: { files: 1, dirs: 0, bytes: 5, newFiles: 1, changedFiles: 0, unchangedFiles: 0, newBytes: 5, storedBytes: 5, durationMs: 1 }, program: 'evil', ...extra };
}

/** Builds a valid archive (its checksum and seals are right) whose contents are hostile: `build` returns the manifest(s). */
export async function craft(file: string, password: string, build: (f: Forge) => Promise<Snapshot | Snapshot[]>, o: { scrypt?: { N: number; r: number; p: number } } = {}): Promise<void> {
  const writer = new ArchiveWriter(file);
  const repo = await Repository.init(writer, password, o.scrypt ? { scrypt: o.scrypt } : {});
  const pool = new CodecPool(repo.master, repo.config, 1);
  try {
    const saver = new BlobSaver(repo, pool);
    const f: Forge = {
      repo,
      saver,
      async data(bytes) {
        const b = Buffer.from(bytes);
        const id = blobId(repo.master.mac, b);
        await saver.save('data', id, b);
        return id.toString('hex');
      },
      async tree(nodes) {
        const enc = Buffer.from(JSON.stringify({ nodes }));
        const id = blobId(repo.master.mac, enc);
        await saver.save('tree', id, enc);
        return id.toString('hex');
      },
    };
    const made = await build(f);
    await saver.flush();
    for (const m of Array.isArray(made) ? made : [made]) await repo.saveJSON('snapshots', m);
    await writer.finish();
  } finally {
    await pool.close();
  }
}

/**
 * Flips one byte of the sealed blob that holds the first chunk of the file at `snapshotPath`,
 * found through the repository's own index (not by guessing which pack was written first:
 * packs are written concurrently). Returns the pack's file.
 */
export async function damageFirstChunk(repoDir: string, password: string, snapshotId: string, snapshotPath: string): Promise<string> {
  const { readdirSync, readFileSync, writeFileSync } = await import('node:fs');
  const path = await import('node:path');
  const { openRepository } = await import('../../../src/app/index.js');
  const { findNode } = await import('../../../src/tree/index.js');
  const repo = await openRepository(repoDir, password);
  let where: { pack: string; offset: number } | undefined;
  try {
    const manifest = await repo.loadJSON<{ tree: string }>('snapshots', snapshotId);
    const file = await findNode(repo, manifest.tree, snapshotPath);
    const first = file?.content?.[0];
    if (first) where = repo.index.get(Buffer.from(first, 'hex'));
  } finally {
    await repo.close();
  }
  if (!where) throw new Error(`${snapshotPath} has no stored chunk in snapshot ${snapshotId}`);
  const data = path.join(repoDir, 'data');
  const pack = readdirSync(data).flatMap((sub) => readdirSync(path.join(data, sub)).map((f) => path.join(data, sub, f))).find((f) => path.basename(f) === where.pack);
  if (!pack) throw new Error(`pack ${where.pack} is not in ${data}`);
  const bytes = readFileSync(pack);
  bytes[where.offset + 20] = bytes[where.offset + 20]! ^ 0xff;
  writeFileSync(pack, bytes);
  return pack;
}
