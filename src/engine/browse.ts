import { AppError } from '../kernel/index.js';
import { findNode, joinPath, loadTree, nameBytes, walkTree, type SnapshotRef, type TreeLoader, type TreeNode } from '../tree/index.js';

export interface Entry {
  path: string;
  type: TreeNode['type'];
  size?: number;
  mode: number;
  mtime: string;
  user?: string;
  group?: string;
  target?: string;
}

function entry(path: string, n: TreeNode): Entry {
  const e: Entry = { path, type: n.type, mode: n.mode, mtime: new Date(Number(BigInt(n.mtimeNs) / 1000000n)).toISOString() };
  if (n.size !== undefined && n.type === 'file') e.size = n.size;
  if (n.user) e.user = n.user;
  if (n.group) e.group = n.group;
  if (n.target !== undefined) e.target = n.target;
  return e;
}

/** Lists a snapshot's entries at and below `path`. */
export async function listEntries(repo: TreeLoader, snap: SnapshotRef, path = '/', onEntry: (e: Entry) => void): Promise<void> {
  const norm = '/' + path.split('/').filter(Boolean).join('/');
  const node = await findNode(repo, snap.snapshot.tree, norm);
  if (!node) throw new AppError('NOT_FOUND', `${norm} is not in snapshot ${snap.id.slice(0, 8)}.`);
  if (node.type !== 'dir') {
    onEntry(entry(norm, node));
    return;
  }
  await walkTree(repo, node.subtree!, (p, n) => onEntry(entry(p.toString('utf8'), n)), Buffer.from(norm));
}

/** One directory of a snapshot: its entries (not their contents), for a browser. */
export async function listDirectory(repo: TreeLoader, snap: SnapshotRef, path = '/'): Promise<Entry[]> {
  const norm = '/' + path.split('/').filter(Boolean).join('/');
  const node = await findNode(repo, snap.snapshot.tree, norm);
  if (!node) throw new AppError('NOT_FOUND', `${norm} is not in snapshot ${snap.id.slice(0, 8)}.`);
  if (node.type !== 'dir') return [entry(norm, node)];
  return (await loadTree(repo, node.subtree!)).nodes.map((n) => entry(joinPath(Buffer.from(norm), nameBytes(n)).toString('utf8'), n));
}

/** A regular file of a snapshot: its size and the ids of its content blobs, in order. */
export async function fileBlobs(repo: TreeLoader, snap: SnapshotRef, path: string): Promise<{ path: string; size: number; blobs: string[] }> {
  const norm = '/' + path.split('/').filter(Boolean).join('/');
  const node = await findNode(repo, snap.snapshot.tree, norm);
  if (!node) throw new AppError('NOT_FOUND', `${norm} is not in snapshot ${snap.id.slice(0, 8)}.`);
  if (node.type !== 'file') throw new AppError('INVALID_ARGUMENT', `${norm} in snapshot ${snap.id.slice(0, 8)} is a ${node.type}, not a file.`);
  return { path: norm, size: node.size ?? 0, blobs: node.content ?? [] };
}

export interface DiffLine {
  change: '+' | '-' | 'M' | 'T' | 'U';
  path: string;
}

export interface DiffResult {
  lines: DiffLine[];
  added: number;
  removed: number;
  modified: number;
}

/**
 * Compares two snapshots: + added, - removed, M content changed, T type changed,
 * U metadata only. Identical subtrees (same id) are skipped without loading.
 */
export async function diffSnapshots(repo: TreeLoader, a: SnapshotRef, b: SnapshotRef): Promise<DiffResult> {
  const res: DiffResult = { lines: [], added: 0, removed: 0, modified: 0 };
  const all = async (treeId: string, base: Buffer, change: '+' | '-') => {
    await walkTree(repo, treeId, (p) => {
      res.lines.push({ change, path: p.toString('utf8') });
      if (change === '+') res.added++;
      else res.removed++;
    }, base);
  };
  const cmp = async (ta: string | undefined, tb: string | undefined, base: Buffer): Promise<void> => {
    if (ta === tb) return;
    const na = ta ? (await loadTree(repo, ta)).nodes : [];
    const nb = tb ? (await loadTree(repo, tb)).nodes : [];
    const ma = new Map(na.map((n) => [nameBytes(n).toString('hex'), n]));
    const mb = new Map(nb.map((n) => [nameBytes(n).toString('hex'), n]));
    const keys = [...new Set([...ma.keys(), ...mb.keys()])].sort((x, y) => Buffer.compare(Buffer.from(x, 'hex'), Buffer.from(y, 'hex')));
    for (const k of keys) {
      const x = ma.get(k);
      const y = mb.get(k);
      const p = joinPath(base, Buffer.from(k, 'hex'));
      const ps = p.toString('utf8');
      if (!x) {
        res.lines.push({ change: '+', path: ps });
        res.added++;
        if (y!.type === 'dir' && y!.subtree) await all(y!.subtree, p, '+');
      } else if (!y) {
        res.lines.push({ change: '-', path: ps });
        res.removed++;
        if (x.type === 'dir' && x.subtree) await all(x.subtree, p, '-');
      } else if (x.type !== y.type) {
        res.lines.push({ change: 'T', path: ps });
        res.modified++;
      } else if (x.type === 'dir') {
        await cmp(x.subtree, y.subtree, p);
      } else if (JSON.stringify(x.content) !== JSON.stringify(y.content) || x.target !== y.target || x.linkTo !== y.linkTo) {
        res.lines.push({ change: 'M', path: ps });
        res.modified++;
      } else if (x.mode !== y.mode || x.uid !== y.uid || x.gid !== y.gid || x.mtimeNs !== y.mtimeNs) {
        res.lines.push({ change: 'U', path: ps });
      }
    }
  };
  await cmp(a.snapshot.tree, b.snapshot.tree, Buffer.from('/'));
  return res;
}
