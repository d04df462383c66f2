import { AppError, nullSink, throwIfAborted, type ProgressSink } from '../../kernel/index.js';
import { decodePackHeader, type BlobDecoder, type Repository } from '../../repo/index.js';
import { listSnapshots, walkTree, type SnapshotRef } from '../../tree/index.js';

export interface CheckOptions {
  repo: Repository;
  decoder: BlobDecoder;
  /** Read back and verify every pack (true), a fraction of them (0..1), or none. */
  readData?: boolean | number;
  signal?: AbortSignal;
  sink?: ProgressSink;
}

export interface Dependent {
  snapshot: string;
  path: string;
}

export interface CheckProblem {
  kind: 'index' | 'pack-missing' | 'pack-damaged' | 'snapshot' | 'tree' | 'blob-missing' | 'blob-damaged';
  message: string;
  pack?: string;
  /** Snapshots and files that depend on the damaged or missing data. */
  dependents?: Dependent[];
}

export interface CheckResult {
  ok: boolean;
  snapshots: number;
  packs: number;
  packsRead: number;
  blobs: number;
  errors: CheckProblem[];
  warnings: string[];
}

/**
 * Verifies the repository: every index file decodes, every indexed pack exists
 * with a plausible size, every snapshot's trees load and every blob they name is
 * indexed; with readData, every pack is read back, hashed, and each blob opened
 * and checked against its keyed id. Damaged or missing data is attributed to the
 * snapshots and files that need it.
 */
export async function check(opts: CheckOptions): Promise<CheckResult> {
  const { repo } = opts;
  const sink = opts.sink ?? nullSink;
  const errors: CheckProblem[] = [];
  const warnings: string[] = [];
  sink.emit({ type: 'phase', phase: 'index' });
  await repo.loadIndex((name, err) => errors.push({ kind: 'index', message: `index ${name}: ${(err as Error).message}` }));

  const stored = new Map<string, number>();
  for await (const o of repo.packs()) stored.set(o.name, o.size);
  const byPack = new Map<string, { id: Buffer; offset: number; length: number }[]>();
  for (const [id, loc] of repo.index.entries()) {
    const arr = byPack.get(loc.pack) ?? [];
    arr.push({ id, offset: loc.offset, length: loc.length });
    byPack.set(loc.pack, arr);
  }
  /** Blob (hex) → the pack problem that makes it unusable. */
  const bad = new Map<string, CheckProblem>();
  const markPack = (pack: string, p: CheckProblem) => {
    errors.push(p);
    for (const b of byPack.get(pack) ?? []) bad.set(b.id.toString('hex'), p);
  };
  for (const [pack, blobs] of byPack) {
    const size = stored.get(pack);
    if (size === undefined) {
      markPack(pack, { kind: 'pack-missing', pack, message: `pack ${pack} is in the index but missing from storage` });
      continue;
    }
    const end = Math.max(...blobs.map((b) => b.offset + b.length));
    if (end > size) markPack(pack, { kind: 'pack-damaged', pack, message: `pack ${pack} is truncated (${size} bytes, blobs reach ${end})` });
  }
  const unindexed = [...stored.keys()].filter((p) => !byPack.has(p));
  if (unindexed.length > 0) {
    warnings.push(`${unindexed.length} pack(s) are not in any index (left by an interrupted backup); "strongbox repo prune" removes them`);
  }

  let packsRead = 0;
  if (opts.readData) {
    sink.emit({ type: 'phase', phase: 'read-data' });
    const all = [...byPack.keys()].filter((p) => stored.has(p)).sort();
    const fraction = opts.readData === true ? 1 : opts.readData;
    const chosen = fraction >= 1 ? all : all.filter(() => Math.random() < fraction);
    for (const pack of chosen) {
      throwIfAborted(opts.signal);
      packsRead++;
      sink.emit({ type: 'progress', counters: { files: packsRead, dirs: 0, bytes: 0, newBytes: 0, totalFiles: chosen.length }, current: pack });
      await readPack(opts, pack, stored.get(pack)!, byPack.get(pack)!, (p, blobIds) => {
        errors.push(p);
        for (const b of blobIds) bad.set(b, p);
      });
    }
  }

  sink.emit({ type: 'phase', phase: 'snapshots' });
  let snaps: SnapshotRef[] = [];
  try {
    snaps = await listSnapshots(repo);
  } catch (err) {
    errors.push({ kind: 'snapshot', message: `cannot load snapshots: ${(err as Error).message}` });
  }
  const dependents = new Map<CheckProblem, Dependent[]>();
  const addDependent = (p: CheckProblem, d: Dependent) => {
    const arr = dependents.get(p) ?? [];
    if (arr.length < 1000) arr.push(d);
    dependents.set(p, arr);
  };
  const seenTrees = new Set<string>();
  for (const s of snaps) {
    throwIfAborted(opts.signal);
    const visitTree = async (treeId: string, at: string): Promise<void> => {
      const treeBad = bad.get(treeId);
      if (treeBad) {
        addDependent(treeBad, { snapshot: s.id, path: at });
        return;
      }
      if (!repo.index.has(Buffer.from(treeId, 'hex'))) {
        errors.push({ kind: 'tree', message: `snapshot ${s.id.slice(0, 8)}: tree ${treeId.slice(0, 16)} for ${at} is not in the index`, dependents: [{ snapshot: s.id, path: at }] });
        return;
      }
      try {
        await walkTree(repo, treeId, (p, node) => {
          const path = p.toString('utf8');
          if (node.type === 'dir' && node.subtree) {
            const sub = node.subtree;
            const subBad = bad.get(sub);
            if (subBad) {
              addDependent(subBad, { snapshot: s.id, path });
              return false;
            }
            if (!repo.index.has(Buffer.from(sub, 'hex'))) {
              errors.push({ kind: 'tree', message: `snapshot ${s.id.slice(0, 8)}: tree ${sub.slice(0, 16)} for ${path} is not in the index`, dependents: [{ snapshot: s.id, path }] });
              return false;
            }
            // Shared subtrees are checked once per snapshot only when something is known to be bad.
            if (bad.size === 0 && seenTrees.has(sub)) return false;
            seenTrees.add(sub);
          }
          for (const id of node.content ?? []) {
            const b = bad.get(id);
            if (b) addDependent(b, { snapshot: s.id, path });
            else if (!repo.index.has(Buffer.from(id, 'hex'))) {
              errors.push({ kind: 'blob-missing', message: `snapshot ${s.id.slice(0, 8)}: ${path} needs blob ${id.slice(0, 16)} which is not in the index`, dependents: [{ snapshot: s.id, path }] });
            }
          }
          return true;
        }, Buffer.from(at === '/' ? '/' : at));
      } catch (err) {
        errors.push({ kind: 'tree', message: `snapshot ${s.id.slice(0, 8)}: cannot read tree below ${at}: ${(err as Error).message}`, dependents: [{ snapshot: s.id, path: at }] });
      }
    };
    await visitTree(s.snapshot.tree, '/');
    for (const id of s.snapshot.log ?? []) {
      const b = bad.get(id);
      if (b) addDependent(b, { snapshot: s.id, path: '(log)' });
      else if (!repo.index.has(Buffer.from(id, 'hex'))) errors.push({ kind: 'blob-missing', message: `snapshot ${s.id.slice(0, 8)}: its log needs blob ${id.slice(0, 16)} which is not in the index`, dependents: [{ snapshot: s.id, path: '(log)' }] });
    }
  }
  for (const [p, deps] of dependents) p.dependents = [...(p.dependents ?? []), ...deps];
  return { ok: errors.length === 0, snapshots: snaps.length, packs: byPack.size, packsRead, blobs: repo.index.size, errors, warnings };
}

async function readPack(
  opts: CheckOptions,
  pack: string,
  size: number,
  indexed: { id: Buffer; offset: number; length: number }[],
  report: (p: CheckProblem, blobIds: string[]) => void,
): Promise<void> {
  const { repo } = opts;
  let data: Buffer;
  try {
    data = await repo.readPack(pack);
  } catch (err) {
    report({ kind: 'pack-damaged', pack, message: `pack ${pack} cannot be read: ${(err as Error).message}` }, indexed.map((b) => b.id.toString('hex')));
    return;
  }
  const reasons: string[] = [];
  if (data.length !== size) reasons.push(`size changed while reading (${size} → ${data.length})`);
  try {
    decodePackHeader(repo.master.encrypt, data, data.length, pack);
  } catch (err) {
    reasons.push(`header: ${(err as Error).message}`);
  }
  const damaged: string[] = [];
  await Promise.all(
    indexed.map(async (b) => {
      try {
        if (b.offset + b.length > data.length) throw new AppError('CORRUPT', 'beyond the end of the pack');
        await opts.decoder.decode(data.subarray(b.offset, b.offset + b.length), b.id, `blob ${b.id.toString('hex').slice(0, 16)}`);
      } catch (err) {
        damaged.push(b.id.toString('hex'));
        if (damaged.length <= 3) reasons.push(`blob ${b.id.toString('hex').slice(0, 16)}: ${(err as Error).message}`);
      }
    }),
  );
  if (reasons.length > 0) {
    report(
      { kind: 'pack-damaged', pack, message: `pack ${pack} is damaged: ${reasons.join('; ')}${damaged.length > 3 ? ` (+${damaged.length - 3} more blobs)` : ''}; ${damaged.length} of ${indexed.length} blobs unusable` },
      damaged,
    );
  }
}
