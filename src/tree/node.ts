import { isUtf8 } from 'node:buffer';
/**
 * The snapshot data model: nodes (one per directory entry) grouped into trees
 * (one per directory, stored as a `tree` blob), and snapshot manifests.
 * Names and link targets are bytes: when they are not valid UTF-8 the exact
 * bytes travel base64-encoded in `nameRaw` / `targetRaw`. See docs/FORMAT.md.
 */
export type NodeType = 'file' | 'dir' | 'symlink' | 'hardlink' | 'fifo' | 'socket' | 'chardev' | 'blockdev';

export interface TreeNode {
  name: string;
  nameRaw?: string;
  type: NodeType;
  mode: number;
  uid: number;
  gid: number;
  user?: string;
  group?: string;
  /** Nanoseconds since the epoch, as a decimal string (exceeds 2^53). */
  mtimeNs: string;
  size?: number;
  /** files: change time in ns (decimal string); equal ctimes mean equal attributes. */
  ctimeNs?: string;
  inode?: string;
  dev?: string;
  links?: number;
  /** file: content blob ids in order. */
  content?: string[];
  /** dir: the tree blob id. */
  subtree?: string;
  /** symlink */
  target?: string;
  targetRaw?: string;
  /** hardlink: the snapshot path (bytes, base64) of the first link, which holds the content. */
  linkTo?: string;
  rdev?: string;
  xattrs?: Record<string, string>;
}

export interface Tree {
  nodes: TreeNode[];
}

export function encodeName(bytes: Buffer): { name: string; nameRaw?: string } {
  const name = bytes.toString('utf8');
  // Well-formed UTF-8 is exactly what decodes and encodes back to the same bytes.
  return isUtf8(bytes) ? { name } : { name, nameRaw: bytes.toString('base64') };
}

export function nameBytes(node: Pick<TreeNode, 'name' | 'nameRaw'>): Buffer {
  return node.nameRaw !== undefined ? Buffer.from(node.nameRaw, 'base64') : Buffer.from(node.name, 'utf8');
}

export function linkTargetBytes(node: TreeNode): Buffer {
  return node.targetRaw !== undefined ? Buffer.from(node.targetRaw, 'base64') : Buffer.from(node.target ?? '', 'utf8');
}

/**
 * Nodes per piece when a tree is encoded or decoded in pieces. V8 makes a string of more
 * than 128 KiB in its large-object space, on fresh pages each time: a 280 KiB tree (a
 * directory of 1,000 files) took 3 ms to turn into a string, its pieces 0.1 ms.
 */
const PIECE_NODES = 64;
const PIECE_BYTES = 32 * 1024;
const HEAD = Buffer.from('{"nodes":[');
const TAIL = Buffer.from(']}');
const COMMA = Buffer.from(',');
/** Between two nodes as encodeTree writes them (`name` first): the only place this text can occur outside a string. */
const BETWEEN = Buffer.from('},{"name":');

/** A tree's encoding: its nodes sorted by their names' bytes (`sorted`: the caller has them in that order). */
export function encodeTree(nodes: TreeNode[], sorted = false): Buffer {
  if (!sorted) {
    // Each name's bytes once, not twice per comparison (a snapshot encodes every directory).
    const keyed = nodes.map((n) => ({ key: nameBytes(n), n }));
    keyed.sort((a, b) => Buffer.compare(a.key, b.key));
    nodes = keyed.map((k) => k.n);
  }
  if (nodes.length <= PIECE_NODES) return Buffer.from(JSON.stringify({ nodes }));
  // The same bytes as JSON.stringify({ nodes }), made in pieces.
  const parts: Buffer[] = [HEAD];
  for (let i = 0; i < nodes.length; i += PIECE_NODES) {
    if (i > 0) parts.push(COMMA);
    parts.push(Buffer.from(JSON.stringify(nodes.slice(i, i + PIECE_NODES))).subarray(1, -1));
  }
  parts.push(TAIL);
  return Buffer.concat(parts);
}

export function decodeTree(data: Buffer): Tree {
  const t = (decodePieces(data) ?? JSON.parse(data.toString('utf8'))) as Tree;
  if (!Array.isArray(t.nodes)) throw new Error('tree without nodes');
  return t;
}

/**
 * A large tree as encodeTree writes it, parsed in pieces cut between nodes; undefined
 * when it is small or not in that shape (JSON.parse of the whole then decides). Each
 * piece must parse as a list of values on its own, which holds only when every cut lies
 * between two elements of the node list: the result is then exactly the whole parse.
 */
function decodePieces(data: Buffer): Tree | undefined {
  const end = data.length - TAIL.length;
  if (data.length < 4 * PIECE_BYTES || data.compare(HEAD, 0, HEAD.length, 0, HEAD.length) !== 0 || data.compare(TAIL, 0, TAIL.length, end) !== 0) return undefined;
  const nodes: TreeNode[] = [];
  let start = HEAD.length;
  while (start < end) {
    let cut = end;
    if (end - start > 2 * PIECE_BYTES) {
      const k = data.indexOf(BETWEEN, start + PIECE_BYTES);
      if (k >= 0 && k < end) cut = k + 1;
    }
    let piece: unknown;
    try {
      piece = JSON.parse('[' + data.toString('utf8', start, cut) + ']');
    } catch {
      return undefined;
    }
    if (!Array.isArray(piece) || piece.length === 0) return undefined;
    for (const n of piece as TreeNode[]) nodes.push(n);
    start = cut + 1;
  }
  return { nodes };
}

export function joinPath(dir: Buffer, name: Buffer): Buffer {
  if (dir.length === 1 && dir[0] === 0x2f) return Buffer.concat([dir, name]);
  return Buffer.concat([dir, SLASH, name]);
}

const SLASH = Buffer.from('/');
