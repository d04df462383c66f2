import { AppError, nullSink, throwIfAborted, type ProgressSink } from '../../kernel/index.js';
import { BlobSaver, type BlobDecoder, type IndexedPack, type PackedBlob, type Repository, type BlobEncoder } from '../../repo/index.js';
import { listSnapshots, walkTree } from '../../tree/index.js';

export interface PruneOptions {
  repo: Repository;
  decoder: BlobDecoder;
  dryRun?: boolean | undefined;
  /** Repack a pack when more than this fraction of its bytes is unused. */
  maxUnused?: number | undefined;
  signal?: AbortSignal;
  sink?: ProgressSink;
}

export interface PrunePlan {
  keep: string[];
  remove: string[];
  repack: string[];
  unindexed: string[];
  usedBlobs: number;
  unusedBlobs: number;
}

export interface PruneResult extends PrunePlan {
  dryRun: boolean;
  packsWritten: number;
  bytesBefore: number;
  bytesAfter: number;
  reclaimedBytes: number;
  /** Temporary files of writes that never finished (a killed backup's open pack), removed. */
  temporaries: number;
}

export interface PackUsage {
  pack: string;
  size: number;
  blobs: PackedBlob[];
}

/**
 * Pure prune plan: which packs to keep, delete or repack, given the packs'
 * contents, the set of blobs still used, and each pack's size. A blob stored
 * twice counts as used only in the first kept pack that holds it.
 */
export function planPrune(packs: readonly PackUsage[], used: ReadonlySet<string>, unindexed: readonly string[], maxUnused: number): PrunePlan & { wanted: Map<string, string> } {
  const plan = { keep: [] as string[], remove: [] as string[], repack: [] as string[], unindexed: [...unindexed], usedBlobs: 0, unusedBlobs: 0 };
  const owner = new Map<string, string>();
  // Prefer packs that are mostly used as the home of a duplicated blob.
  const scored = packs.map((p) => {
    const usedBytes = p.blobs.filter((b) => used.has(b.id.toString('hex'))).reduce((n, b) => n + b.length, 0);
    return { p, usedBytes };
  });
  scored.sort((a, b) => b.usedBytes / Math.max(1, b.p.size) - a.usedBytes / Math.max(1, a.p.size) || a.p.pack.localeCompare(b.p.pack));
  for (const { p } of scored) {
    let usedBytes = 0;
    for (const b of p.blobs) {
      const hex = b.id.toString('hex');
      if (used.has(hex) && !owner.has(hex)) {
        owner.set(hex, p.pack);
        usedBytes += b.length;
        plan.usedBlobs++;
      } else plan.unusedBlobs++;
    }
    const blobBytes = p.blobs.reduce((n, b) => n + b.length, 0);
    if (usedBytes === 0) plan.remove.push(p.pack);
    else if (1 - usedBytes / Math.max(1, blobBytes) > maxUnused) plan.repack.push(p.pack);
    else plan.keep.push(p.pack);
  }
  return { ...plan, wanted: owner };
}

/**
 * Removes data no snapshot uses. Runs under the exclusive lock. Order keeps the
 * repository consistent at every step: unindexed leftovers are deleted, repacked
 * blobs are written, then one new index superseding all old ones, then old indexes
 * and packs are deleted.
 */
export async function prune(opts: PruneOptions & { encoder: BlobEncoder }): Promise<PruneResult> {
  const { repo } = opts;
  const sink = opts.sink ?? nullSink;
  const lock = await repo.lock(true);
  try {
    // Under the exclusive lock no writer runs: every temporary file is a dead process's.
    const temporaries = opts.dryRun ? 0 : await repo.removeTemporaries();
    await repo.loadIndex();
    sink.emit({ type: 'phase', phase: 'finding used data' });
    const used = new Set<string>();
    for (const s of await listSnapshots(repo)) {
      throwIfAborted(opts.signal);
      used.add(s.snapshot.tree);
      // Blobs a manifest names outside its tree (an application run's log).
      for (const id of s.snapshot.log ?? []) used.add(id);
      try {
        await walkTree(repo, s.snapshot.tree, (_p, node) => {
          if (node.subtree) {
            if (used.has(node.subtree)) return false;
            used.add(node.subtree);
          }
          for (const id of node.content ?? []) used.add(id);
          return true;
        });
      } catch (err) {
        throw new AppError('CHECK_FAILED', `Snapshot ${s.id.slice(0, 8)} cannot be read completely (${(err as Error).message}); prune refuses to delete anything. Run "strongbox repo check".`, { cause: err });
      }
    }
    const indexFiles = await repo.readIndexFiles();
    const stored = new Map<string, number>();
    for await (const o of repo.packs()) stored.set(o.name, o.size);
    const packs = new Map<string, PackUsage>();
    for (const content of indexFiles.values()) {
      for (const p of content.packs) {
        const size = stored.get(p.id);
        if (size === undefined) {
          throw new AppError('CHECK_FAILED', `Pack ${p.id} is in the index but missing from storage; prune refuses to continue. Run "strongbox repo check".`);
        }
        if (!packs.has(p.id)) packs.set(p.id, { pack: p.id, size, blobs: p.blobs });
      }
    }
    for (const hex of used) {
      if (!repo.index.has(Buffer.from(hex, 'hex'))) {
        throw new AppError('CHECK_FAILED', `A snapshot needs blob ${hex.slice(0, 16)}, which no index lists; prune refuses to continue. Run "strongbox repo check".`);
      }
    }
    const unindexed = [...stored.keys()].filter((p) => !packs.has(p));
    const plan = planPrune([...packs.values()], used, unindexed, opts.maxUnused ?? 0.1);
    const bytesBefore = [...stored.values()].reduce((a, b) => a + b, 0);
    const removedBytes = [...plan.remove, ...plan.repack, ...plan.unindexed].reduce((n, p) => n + (stored.get(p) ?? 0), 0);
    const { wanted, ...planOut } = plan;
    if (opts.dryRun || (plan.remove.length === 0 && plan.repack.length === 0 && plan.unindexed.length === 0)) {
      const estimate = plan.repack.reduce((n, p) => n + packs.get(p)!.blobs.filter((b) => wanted.get(b.id.toString('hex')) === p).reduce((m, b) => m + b.length, 0), 0);
      return { ...planOut, dryRun: !!opts.dryRun, temporaries, packsWritten: 0, bytesBefore, bytesAfter: bytesBefore - removedBytes + estimate, reclaimedBytes: removedBytes - estimate };
    }

    // Packs no index lists (left by an interrupted backup) go first: nothing can refer to
    // them (a snapshot is written only after its index), and on a full disk freeing them
    // is what makes room for the new index below.
    for (const p of plan.unindexed) await repo.removePack(p);
    if (plan.remove.length === 0 && plan.repack.length === 0) {
      let bytesAfter = 0;
      for await (const o of repo.packs()) bytesAfter += o.size;
      return { ...planOut, dryRun: false, temporaries, packsWritten: 0, bytesBefore, bytesAfter, reclaimedBytes: bytesBefore - bytesAfter };
    }

    sink.emit({ type: 'phase', phase: 'repacking' });
    const saver = new BlobSaver(repo, opts.encoder, { deferIndex: true });
    for (const pack of plan.repack) {
      throwIfAborted(opts.signal);
      const data = await repo.readPack(pack);
      for (const b of packs.get(pack)!.blobs) {
        if (wanted.get(b.id.toString('hex')) !== pack) continue;
        const sealed = data.subarray(b.offset, b.offset + b.length);
        await opts.decoder.decode(sealed, b.id, `blob ${b.id.toString('hex').slice(0, 16)} in pack ${pack.slice(0, 16)}`);
        saver.addSealed(b.type, b.id, Buffer.from(sealed), b.rawLength);
        await saver.room();
      }
    }
    await saver.flush();
    const keptPacks: IndexedPack[] = plan.keep.map((p) => ({ id: p, blobs: packs.get(p)!.blobs }));
    sink.emit({ type: 'phase', phase: 'writing index' });
    const oldIndexes = [...indexFiles.keys()];
    await repo.saveObjectIndex({ supersedes: oldIndexes, packs: [...keptPacks, ...saver.written] });
    sink.emit({ type: 'phase', phase: 'deleting' });
    for (const name of oldIndexes) await repo.removeIndexFile(name);
    for (const p of [...plan.remove, ...plan.repack]) await repo.removePack(p);
    const written = saver.written.length;
    let bytesAfter = 0;
    for await (const o of repo.packs()) bytesAfter += o.size;
    return { ...planOut, dryRun: false, temporaries, packsWritten: written, bytesBefore, bytesAfter, reclaimedBytes: bytesBefore - bytesAfter };
  } finally {
    await lock.release().catch(() => undefined);
  }
}

