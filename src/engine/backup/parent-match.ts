import { isUtf8 } from 'node:buffer';
import { F_CTIME_S, F_DEV, F_GID, F_INO, F_MODE, F_MTIME_S, F_NLINK, F_SIZE, F_UID, Listing, listDirectory, type DirListing } from '../../repo/index.js';
import { splitNodes, type TreeNode } from '../../tree/index.js';

/**
 * An incremental snapshot's directory, listed and compared with the parent snapshot's tree
 * on a pipeline worker. Most files of an incremental snapshot are unchanged, and the main
 * thread, which limits such a snapshot, then does almost nothing for them: it never parses
 * their parent nodes (the parse and the garbage it made were most of its time on
 * 1,000,000 files, docs/PERFORMANCE.md) but copies their encoding into the new tree.
 * What needs the main thread's state is left to it: whether the content ids are stored,
 * and the owner names (checked once per distinct owner).
 */
export interface ParentMatch {
  /** Per listing entry: the index of the parent's node of the same name, or -1. */
  parent: Int32Array;
  /** Per entry with a parent node: that node's encoding, [start, end) in the parent tree. */
  start: Uint32Array;
  end: Uint32Array;
  /**
   * Per entry: 1 when it is a file with one link whose metadata (size, mtime, ctime, inode,
   * device, mode, owners) is its parent node's — the node is the file's, as it is, once its
   * content ids are known to be stored and its owner names are this machine's.
   */
  same: Uint8Array;
  /** Per same entry: its owners, an index into `owners`. */
  owner: Uint16Array;
  /** The distinct owners of the same entries: [uid, user, gid, group], names as the parent has them. */
  owners: [number, string | null, number, string | null][];
  /** The content ids of the same entries, 32 bytes each, in entry order; `idCount` per entry. */
  ids: Uint8Array;
  idCount: Uint32Array;
  /** How many nodes the parent tree has. */
  nodes: number;
}

/** A name as a map key: its text when it is UTF-8, its bytes in base64 after a NUL otherwise. */
export function nameKey(name: Buffer): string {
  return isUtf8(name) ? name.toString('utf8') : '\0' + name.toString('base64');
}

/** The key of a tree node's name, as `nameKey` makes it of the name's bytes. */
export function nodeKey(n: Pick<TreeNode, 'name' | 'nameRaw'>): string {
  return n.nameRaw === undefined ? n.name : nameKey(Buffer.from(n.nameRaw, 'base64'));
}

/**
 * Compares a listing with the parent's tree (its plaintext). Undefined when the tree cannot be
 * cut into its nodes' texts (then nothing of it is copied: the caller parses it whole).
 */
export function matchParent(list: Listing, tree: Buffer): ParentMatch | undefined {
  const split = splitNodes(tree);
  if (!split) return undefined;
  const { nodes, ranges } = split;
  const byName = new Map<string, number>();
  for (let k = 0; k < nodes.length; k++) byName.set(nodeKey(nodes[k]!), k);
  const n = list.length;
  const m: ParentMatch = { parent: new Int32Array(n).fill(-1), start: new Uint32Array(n), end: new Uint32Array(n), same: new Uint8Array(n), owner: new Uint16Array(n), owners: [], ids: new Uint8Array(0), idCount: new Uint32Array(n), nodes: nodes.length };
  const ownerIndex = new Map<string, number>();
  let last = -1;
  const content: string[] = [];
  for (let i = 0; i < n; i++) {
    const k = byName.get(nameKey(list.name(i)));
    if (k === undefined) continue;
    m.parent[i] = k;
    m.start[i] = ranges[2 * k]!;
    m.end[i] = ranges[2 * k + 1]!;
    const p = nodes[k]!;
    if (list.failure(i) || !list.isFile(i) || list.num(i, F_NLINK) !== 1 || p.type !== 'file' || p.links !== 1) continue;
    if (p.size !== list.num(i, F_SIZE) || p.mtimeNs !== list.timeNs(i, F_MTIME_S) || p.ctimeNs !== list.timeNs(i, F_CTIME_S) || p.inode !== list.text(i, F_INO) || p.dev !== list.text(i, F_DEV)) continue;
    const uid = list.num(i, F_UID);
    const gid = list.num(i, F_GID);
    if (p.mode !== (list.num(i, F_MODE) & 0o7777) || p.uid !== uid || p.gid !== gid) continue;
    const ids = p.content ?? [];
    if (!Array.isArray(ids) || !ids.every((h) => typeof h === 'string' && h.length === 64)) continue;
    const user = p.user ?? null;
    const group = p.group ?? null;
    // Files next to each other mostly have the same owners: the last ones first, the map otherwise.
    let o = last >= 0 && m.owners[last]![0] === uid && m.owners[last]![1] === user && m.owners[last]![2] === gid && m.owners[last]![3] === group ? last : undefined;
    if (o === undefined) {
      const key = JSON.stringify([uid, user, gid, group]);
      o = ownerIndex.get(key);
      if (o === undefined) {
        if (m.owners.length === 0xffff) continue;
        ownerIndex.set(key, (o = m.owners.length));
        m.owners.push([uid, user, gid, group]);
      }
      last = o;
    }
    m.same[i] = 1;
    m.owner[i] = o;
    m.idCount[i] = ids.length;
    for (const h of ids) content.push(h);
  }
  const idBytes = Buffer.alloc(32 * content.length);
  for (let c = 0; c < content.length; c++) {
    // Not hex: a zero id, which no stored blob has, so the file is read again.
    if (idBytes.write(content[c]!, 32 * c, 'hex') !== 32) idBytes.fill(0, 32 * c, 32 * c + 32);
  }
  m.ids = idBytes;
  return m;
}

export interface ListInput {
  path: Uint8Array;
  /** The parent's tree of this directory (its plaintext), moved to the worker. */
  tree?: Uint8Array;
}

export interface ListOutput {
  listing: DirListing;
  /** The parent's tree, moved back. */
  tree?: Uint8Array;
  match?: ParentMatch;
}

/** Where the pipeline finds this job. */
export const LIST_JOB = new URL(import.meta.url);

/** On a pipeline worker: lists a directory and compares it with its parent tree. */
export function workerJob(input: ListInput): { output: ListOutput; transfer: ArrayBuffer[] } {
  const listing = listDirectory(Buffer.from(input.path.buffer, input.path.byteOffset, input.path.byteLength));
  const transfer = [listing.names.buffer, listing.ends.buffer, listing.meta.buffer] as ArrayBuffer[];
  if (!input.tree) return { output: { listing }, transfer };
  let match: ParentMatch | undefined;
  try {
    match = matchParent(new Listing(listing), Buffer.from(input.tree.buffer, input.tree.byteOffset, input.tree.byteLength));
  } catch {
    // Not a tree at all: the main thread finds that too, and reads the directory as new.
  }
  transfer.push(input.tree.buffer as ArrayBuffer);
  if (match) transfer.push(...([match.parent, match.start, match.end, match.same, match.owner, match.idCount].map((a) => a.buffer) as ArrayBuffer[]), match.ids.buffer as ArrayBuffer);
  return { output: { listing, tree: input.tree, ...(match ? { match } : {}) }, transfer };
}
