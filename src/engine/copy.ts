import { manifestProblems } from './foreign.js';
import { AppError, nullSink, systemClock, throwIfAborted, type ProgressSink } from '../kernel/index.js';
import { blobId, BlobSaver, type BlobDecoder, type BlobEncoder, type Repository } from '../repo/index.js';
import { decodeTree, encodeTree, identityOf, listSnapshots, type Snapshot, type SnapshotRef, type TreeNode } from '../tree/index.js';

export interface CopyOptions {
  source: Repository;
  target: Repository;
  /** Decodes the source's blobs (its keys); encodes for the target (its keys). */
  decoder: BlobDecoder;
  encoder: BlobEncoder;
  snapshots: SnapshotRef[];
  signal?: AbortSignal;
  sink?: ProgressSink;
  /** For the manifests' sanity check (a time in the future). */
  now?: Date;
}

export interface CopyResult {
  copied: { source: string; target: string }[];
  /** Already in the target (copied before): nothing was transferred for them. */
  skipped: { source: string; target: string }[];
  blobsSent: number;
  bytesSent: number;
  storedBytesSent: number;
}

/** Where a copied snapshot came from: a re-run finds it and copies nothing. */
export interface CopiedFrom {
  repository: string;
  snapshot: string;
}

/**
 * Copies snapshots from one repository to another, whatever their passwords
 * and keys: every blob the snapshots need is opened with the source's key and,
 * unless the target already holds it (by the target's own keyed id), sealed
 * with the target's key and stored; trees are rewritten with the target's ids.
 * Chunk boundaries are kept, so copies of related snapshots deduplicate with
 * each other. A snapshot manifest is written only after all its data is
 * durable in the target; a snapshot copied before (same source repository and
 * id) is skipped, so re-running a copy transfers nothing.
 */
export async function copySnapshots(o: CopyOptions): Promise<CopyResult> {
  const sink = o.sink ?? nullSink;
  if (o.source.config.id === o.target.config.id) throw new AppError('INVALID_ARGUMENT', 'The source and the target are the same repository.');
  const result: CopyResult = { copied: [], skipped: [], blobsSent: 0, bytesSent: 0, storedBytesSent: 0 };
  // A snapshot the target holds already — by its identity (the id it was first written under), or
  // copied from this very source before — is not copied again, whichever way it got there.
  const existing = new Map<string, string>();
  for (const s of await listSnapshots(o.target)) {
    existing.set(identityOf(s), s.id);
    const from = (s.snapshot as Snapshot & { copiedFrom?: CopiedFrom }).copiedFrom;
    if (from && from.repository === o.source.config.id) existing.set(from.snapshot, s.id);
  }
  const todo = o.snapshots.filter((s) => {
    const t = existing.get(identityOf(s)) ?? existing.get(s.id);
    if (t) result.skipped.push({ source: s.id, target: t });
    return !t;
  });
  if (todo.length === 0) return result;
  // A manifest that would mislead ordering or retention in the target is not carried there (docs/SECURITY.md).
  const insane = todo.flatMap((s) => manifestProblems(s, o.now ?? systemClock.now()));
  if (insane.length) throw new AppError('CORRUPT', `Not copied: ${insane.slice(0, 3).join('; ')}. Nothing was copied.`);
  await o.source.loadIndex();
  await o.target.loadIndex();
  const lockS = await o.source.lock(false);
  const lockT = await o.target.lock(false);
  const saver = new BlobSaver(o.target, o.encoder);
  // Source id → target id, for this run (a blob shared by several snapshots is translated once).
  const translated = new Map<string, string>();
  const counters = { files: 0, dirs: 0, bytes: 0, newBytes: 0 };
  let lastEmit = 0;
  const read = async (id: string, what: string): Promise<Buffer> => {
    const bin = Buffer.from(id, 'hex');
    const { sealed, loc } = await o.source.readSealedBlob(bin);
    return o.decoder.decode(sealed, bin, `${what} ${id.slice(0, 16)} in pack ${loc.pack.slice(0, 16)} of the source`);
  };
  const data = async (id: string): Promise<string> => {
    const done = translated.get(id);
    if (done) return done;
    const raw = await read(id, 'data blob');
    const tid = blobId(o.target.master.mac, raw);
    if (await saver.save('data', tid, raw)) {
      result.blobsSent++;
      result.bytesSent += raw.length;
    }
    counters.bytes += raw.length;
    const now = systemClock.now().getTime();
    if (now - lastEmit > 200) {
      lastEmit = now;
      sink.emit({ type: 'progress', counters: { ...counters, newBytes: saver.stats.newRawBytes } });
    }
    translated.set(id, tid.toString('hex'));
    return tid.toString('hex');
  };
  const tree = async (id: string): Promise<string> => {
    const done = translated.get(id);
    if (done) return done;
    throwIfAborted(o.signal);
    const t = decodeTree(await read(id, 'tree blob'));
    const nodes: TreeNode[] = [];
    for (const n of t.nodes) {
      const copy: TreeNode = { ...n };
      if (n.content) {
        const ids: string[] = [];
        for (const c of n.content) ids.push(await data(c));
        copy.content = ids;
        counters.files++;
      }
      if (n.subtree) {
        copy.subtree = await tree(n.subtree);
        counters.dirs++;
      }
      nodes.push(copy);
    }
    const enc = encodeTree(nodes);
    const tid = blobId(o.target.master.mac, enc);
    if (await saver.save('tree', tid, enc)) result.blobsSent++;
    translated.set(id, tid.toString('hex'));
    return tid.toString('hex');
  };
  try {
    for (const s of todo) {
      sink.emit({ type: 'phase', phase: `copying ${s.id.slice(0, 8)}` });
      const root = await tree(s.snapshot.tree);
      const log: string[] = [];
      for (const id of s.snapshot.log ?? []) log.push(await data(id));
      await saver.flush();
      const manifest: Snapshot & { copiedFrom: CopiedFrom } = { ...s.snapshot, tree: root, origin: identityOf(s), copiedFrom: { repository: o.source.config.id, snapshot: s.id } };
      // The run's log is blobs too: its ids are the target's.
      if (manifest.type && s.snapshot.log) manifest.log = log;
      // The parent is an id in the source; in the target it would dangle.
      delete manifest.parent;
      throwIfAborted(o.signal);
      await lockT.assertHeld();
      await lockS.assertHeld();
      const id = await o.target.saveJSON('snapshots', manifest);
      result.copied.push({ source: s.id, target: id });
    }
    result.storedBytesSent = saver.stats.newStoredBytes;
    return result;
  } catch (err) {
    await saver.salvage();
    throw err;
  } finally {
    await lockT.release().catch(() => undefined);
    await lockS.release().catch(() => undefined);
  }
}
