import { isUtf8 } from 'node:buffer';
import { ownModule } from '../../kernel/index.js';
// The modules themselves, not their folders' index.ts: this module is a worker's job, and a
// worker that loaded repo/'s index would load the whole repository engine for nothing.
import { F_CTIME_S, F_DEV, F_GID, F_INO, F_MODE, F_MTIME_S, F_NLINK, F_SIZE, F_UID, Listing, listDirectory, type DirListing } from '../../repo/workers/listing.js';
import { nativeScanNodes } from '../../repo/native/core.js';
import { splitNodes, type TreeNode } from '../../tree/node.js';
import { idsInto, N_CTIME_S, N_DEV, N_GID, N_IDS, N_INODE, N_LINKS, N_MODE, N_MTIME_S, N_SIZE, N_UID, NodeScan, S_CONTENT, S_CTIME, S_DEV, S_GROUP, S_INODE, S_MTIME, S_NAME, S_TYPE, S_USER, textIs } from '../../tree/scan.js';

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

/** This thread's scanner (the native core's where it is built): its arrays are kept from one tree to the next. */
const SCAN = new NodeScan(nativeScanNodes());

/**
 * Compares a listing with the parent's tree (its plaintext). Undefined when the tree cannot be
 * cut into its nodes' texts (then nothing of it is copied: the caller parses it whole).
 * Nodes in this Strongbox's own encoding are read from their bytes (`scanNode`), others
 * parsed; `parseAll` parses every node (the reference the scanned reading is tested against).
 */
export function matchParent(list: Listing, tree: Buffer, parseAll = false): ParentMatch | undefined {
  const scan = parseAll ? undefined : SCAN;
  const split = splitNodes(tree, scan);
  if (!split) return undefined;
  const { nodes, ranges } = split;
  const parentOf = byOrder(list, tree, nodes) ?? byKey(list, tree, nodes);
  const n = list.length;
  const m: ParentMatch = { parent: new Int32Array(n).fill(-1), start: new Uint32Array(n), end: new Uint32Array(n), same: new Uint8Array(n), owner: new Uint16Array(n), owners: [], ids: new Uint8Array(0), idCount: new Uint32Array(n), nodes: nodes.length };
  const ownerIndex = new Map<string, number>();
  let last = -1;
  /** The index of an owner in m.owners, added when new; -1 when there are too many. */
  const ownerOf = (uid: number, user: string | null, gid: number, group: string | null): number => {
    const key = JSON.stringify([uid, user, gid, group]);
    let o = ownerIndex.get(key);
    if (o === undefined) {
      if (m.owners.length === 0xffff) return -1;
      ownerIndex.set(key, (o = m.owners.length));
      m.owners.push([uid, user, gid, group]);
    }
    return (last = o);
  };
  let ids: Uint8Array = ID_SCRATCH;
  let idAt = 0;
  for (let i = 0; i < n; i++) {
    const k = parentOf[i]!;
    if (k < 0) continue;
    m.parent[i] = k;
    m.start[i] = ranges[2 * k]!;
    m.end[i] = ranges[2 * k + 1]!;
    if (list.failure(i) || !list.isFile(i) || list.num(i, F_NLINK) !== 1) continue;
    const uid = list.num(i, F_UID);
    const gid = list.num(i, F_GID);
    const p = nodes[k];
    let o: number;
    let count: number;
    if (p) {
      if (p.type !== 'file' || p.links !== 1) continue;
      if (p.size !== list.num(i, F_SIZE) || p.mtimeNs !== list.timeNs(i, F_MTIME_S) || p.ctimeNs !== list.timeNs(i, F_CTIME_S) || p.inode !== list.text(i, F_INO) || p.dev !== list.text(i, F_DEV)) continue;
      if (p.mode !== (list.num(i, F_MODE) & 0o7777) || p.uid !== uid || p.gid !== gid) continue;
      const content = p.content ?? [];
      if (!Array.isArray(content) || !content.every((h) => typeof h === 'string' && h.length === 64)) continue;
      const user = p.user ?? null;
      const group = p.group ?? null;
      // Files next to each other mostly have the same owners: the last ones first, the map otherwise.
      o = last >= 0 && m.owners[last]![0] === uid && m.owners[last]![1] === user && m.owners[last]![2] === gid && m.owners[last]![3] === group ? last : ownerOf(uid, user, gid, group);
      if (o < 0) continue;
      count = content.length;
      ids = roomFor(ids, idAt + 32 * count);
      for (const h of content) {
        // Not hex: a zero id, which no stored blob has, so the file is read again.
        if (Buffer.from(ids.buffer, ids.byteOffset, ids.byteLength).write(h, idAt, 'hex') !== 32) ids.fill(0, idAt, idAt + 32);
        idAt += 32;
      }
    } else {
      if (!textIs(tree, SCAN.start(k, S_TYPE), SCAN.end(k, S_TYPE), 'file') || SCAN.num(k, N_LINKS) !== 1 || SCAN.num(k, N_SIZE) !== list.num(i, F_SIZE)) continue;
      if (!timeIs(tree, k, S_MTIME, N_MTIME_S, list, i, F_MTIME_S) || !timeIs(tree, k, S_CTIME, N_CTIME_S, list, i, F_CTIME_S) || !decimalIs(tree, k, S_INODE, N_INODE, list, i, F_INO) || !decimalIs(tree, k, S_DEV, N_DEV, list, i, F_DEV)) continue;
      if (SCAN.num(k, N_MODE) !== (list.num(i, F_MODE) & 0o7777) || SCAN.num(k, N_UID) !== uid || SCAN.num(k, N_GID) !== gid) continue;
      const before = last >= 0 ? m.owners[last]! : undefined;
      if (before && before[0] === uid && before[2] === gid && ownerIs(tree, k, S_USER, before[1]) && ownerIs(tree, k, S_GROUP, before[3])) o = last;
      else o = ownerOf(uid, SCAN.has(k, S_USER) ? tree.toString('utf8', SCAN.start(k, S_USER), SCAN.end(k, S_USER)) : null, gid, SCAN.has(k, S_GROUP) ? tree.toString('utf8', SCAN.start(k, S_GROUP), SCAN.end(k, S_GROUP)) : null);
      if (o < 0) continue;
      count = SCAN.has(k, S_CONTENT) ? SCAN.num(k, N_IDS) : 0;
      ids = roomFor(ids, idAt + 32 * count);
      if (count > 0) idAt = idsInto(tree, SCAN.start(k, S_CONTENT), SCAN.end(k, S_CONTENT), ids, idAt);
    }
    m.same[i] = 1;
    m.owner[i] = o;
    m.idCount[i] = count;
  }
  ID_SCRATCH = ids;
  // Its own buffer: moved to the main thread.
  m.ids = ids.slice(0, idAt);
  return m;
}

/**
 * Per listing entry, its parent node's index (-1: none), found by walking both in order: the
 * listing is sorted by the names' bytes, and so is a tree encodeTree wrote. Undefined when a
 * node was parsed (its name is what JSON.parse made of its text) or the nodes are not in
 * strictly ascending order (then byKey decides, as a map by name would).
 */
function byOrder(list: Listing, tree: Buffer, nodes: readonly (TreeNode | undefined)[]): Int32Array | undefined {
  for (let k = 0; k < nodes.length; k++) {
    if (nodes[k] !== undefined) return undefined;
    if (k > 0 && compareRanges(tree, SCAN.start(k - 1, S_NAME), SCAN.end(k - 1, S_NAME), tree, SCAN.start(k, S_NAME), SCAN.end(k, S_NAME)) >= 0) return undefined;
  }
  const out = new Int32Array(list.length).fill(-1);
  const names = list.names;
  for (let i = 0, k = 0; i < list.length && k < nodes.length; ) {
    const c = compareRanges(names, list.nameStart(i), list.nameEnd(i), tree, SCAN.start(k, S_NAME), SCAN.end(k, S_NAME));
    if (c === 0) out[i++] = k++;
    else if (c < 0) i++;
    else k++;
  }
  return out;
}

/** Per listing entry, its parent node's index (-1: none), by a map of the nodes' names (`nameKey`; the last of a name wins). */
function byKey(list: Listing, tree: Buffer, nodes: readonly (TreeNode | undefined)[]): Int32Array {
  const byName = new Map<string, number>();
  for (let k = 0; k < nodes.length; k++) {
    const p = nodes[k];
    byName.set(p ? nodeKey(p) : tree.toString('utf8', SCAN.start(k, S_NAME), SCAN.end(k, S_NAME)), k);
  }
  const out = new Int32Array(list.length);
  for (let i = 0; i < list.length; i++) out[i] = byName.get(nameKey(list.name(i))) ?? -1;
  return out;
}

/** Buffer.compare's order of a[as, ae) and b[bs, be). */
function compareRanges(a: Uint8Array, as: number, ae: number, b: Uint8Array, bs: number, be: number): number {
  const n = Math.min(ae - as, be - bs);
  for (let j = 0; j < n; j++) {
    const d = a[as + j]! - b[bs + j]!;
    if (d !== 0) return d;
  }
  return ae - as - (be - bs);
}

/** Content ids as they are found, kept from one tree to the next. */
let ID_SCRATCH: Uint8Array = new Uint8Array(64 * 1024);

function roomFor(ids: Uint8Array, size: number): Uint8Array {
  if (size <= ids.length) return ids;
  const more = new Uint8Array(Math.max(size, 2 * ids.length));
  more.set(ids);
  return more;
}

/** Whether a scanned node's time (its string and number slots) is the listing's `field`: compared as numbers where both are exact, as text otherwise. */
function timeIs(tree: Buffer, k: number, text: number, num: number, list: Listing, i: number, field: number): boolean {
  const s = list.raw(i, field);
  const mine = SCAN.num(k, num);
  if (!Number.isNaN(s) && !Number.isNaN(mine)) return s === mine && list.raw(i, field + 1) === SCAN.num(k, num + 1);
  return textIs(tree, SCAN.start(k, text), SCAN.end(k, text), list.timeNs(i, field));
}

/** Whether a scanned node's decimal string (an inode, a device) is the listing's `field`, as timeIs compares. */
function decimalIs(tree: Buffer, k: number, text: number, num: number, list: Listing, i: number, field: number): boolean {
  const v = list.raw(i, field);
  const mine = SCAN.num(k, num);
  if (!Number.isNaN(v) && !Number.isNaN(mine)) return v === mine;
  return textIs(tree, SCAN.start(k, text), SCAN.end(k, text), list.text(i, field));
}

/** Whether a scanned node's owner name (S_USER or S_GROUP) is `name` (null: it has none). */
function ownerIs(tree: Buffer, k: number, slot: number, name: string | null): boolean {
  if (!SCAN.has(k, slot)) return name === null;
  return name !== null && textIs(tree, SCAN.start(k, slot), SCAN.end(k, slot), name);
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
export const LIST_JOB = ownModule('engine/backup/parent-match.js', 'parent-match');

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
