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

/** A tree's encoding: its nodes sorted by their names' bytes (`sorted`: the caller has them in that order). */
export function encodeTree(nodes: TreeNode[], sorted = false): Buffer {
  if (sorted) return Buffer.from(JSON.stringify({ nodes }));
  // Each name's bytes once, not twice per comparison (a snapshot encodes every directory).
  const keyed = nodes.map((n) => ({ key: nameBytes(n), n }));
  keyed.sort((a, b) => Buffer.compare(a.key, b.key));
  return Buffer.from(JSON.stringify({ nodes: keyed.map((k) => k.n) }));
}

export function decodeTree(data: Buffer): Tree {
  const t = JSON.parse(data.toString('utf8')) as Tree;
  if (!Array.isArray(t.nodes)) throw new Error('tree without nodes');
  return t;
}

export function joinPath(dir: Buffer, name: Buffer): Buffer {
  if (dir.length === 1 && dir[0] === 0x2f) return Buffer.concat([dir, name]);
  return Buffer.concat([dir, SLASH, name]);
}

const SLASH = Buffer.from('/');
