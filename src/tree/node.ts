import { isUtf8 } from 'node:buffer';
import type { NodeScan } from './scan.js';
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

/**
 * A tree's encoding: its nodes sorted by their names' bytes (`sorted`: the caller has them
 * in that order). Nodes may be given as their encoding (`Uint8Array`: one node's text, or
 * several with the commas between them, as a parent tree holds them; only with `sorted`),
 * copied as it is: an incremental snapshot keeps most nodes that way, never parsing them.
 */
export function encodeTree(nodes: readonly (TreeNode | Uint8Array)[], sorted = false): Buffer {
  if (!sorted) {
    // Each name's bytes once, not twice per comparison (a snapshot encodes every directory).
    const keyed = nodes.map((n) => {
      if (n instanceof Uint8Array) throw new Error('encodeTree: encoded nodes must come sorted');
      return { key: nameBytes(n), n };
    });
    keyed.sort((a, b) => Buffer.compare(a.key, b.key));
    nodes = keyed.map((k) => k.n);
  }
  const encoded = nodes.some((n) => n instanceof Uint8Array);
  if (!encoded && nodes.length <= PIECE_NODES) return Buffer.from(JSON.stringify({ nodes }));
  // The same bytes as JSON.stringify({ nodes }), made in pieces.
  const parts: Uint8Array[] = [HEAD];
  for (let i = 0; i < nodes.length; ) {
    if (i > 0) parts.push(COMMA);
    const n = nodes[i]!;
    if (n instanceof Uint8Array) {
      // Encoded nodes next to each other in one parent tree are copied as one range, their commas with them.
      let run = n;
      for (i++; i < nodes.length; i++) {
        const m = nodes[i]!;
        if (!(m instanceof Uint8Array) || m.buffer !== run.buffer || m.byteOffset !== run.byteOffset + run.byteLength + 1 || new Uint8Array(run.buffer, run.byteOffset + run.byteLength, 1)[0] !== COMMA[0]) break;
        run = new Uint8Array(run.buffer, run.byteOffset, run.byteLength + 1 + m.byteLength);
      }
      parts.push(run);
      continue;
    }
    let j = i + 1;
    while (j < nodes.length && j - i < PIECE_NODES && !(nodes[j] instanceof Uint8Array)) j++;
    parts.push(Buffer.from(JSON.stringify(nodes.slice(i, j))).subarray(1, -1));
    i = j;
  }
  parts.push(TAIL);
  return Buffer.concat(parts);
}

/**
 * A tree as encodeTree writes it, split into its nodes' texts (cut where one node ends and
 * the next begins, `},{"name":`) and each parsed alone: the nodes, and where each one's
 * text lies ([start, end) pairs) — what encodeTree may be given back as encoded nodes.
 * Undefined when any part is not one node on its own (then the text was not cut between
 * nodes: the caller parses the whole). Every part parsing alone, the nodes are exactly what
 * JSON.parse makes of the whole.
 *
 * With `scan`, a node the scanner accepts (scan.ts: a strict subset of JSON, one object
 * standing alone) is not parsed: its values are in `scan` as node k, and nodes[k] is
 * undefined; the next node then starts right after its comma.
 */
export function splitNodes(data: Buffer): { nodes: TreeNode[]; ranges: Uint32Array } | undefined;
export function splitNodes(data: Buffer, scan?: NodeScan): { nodes: (TreeNode | undefined)[]; ranges: Uint32Array } | undefined;
export function splitNodes(data: Buffer, scan?: NodeScan): { nodes: (TreeNode | undefined)[]; ranges: Uint32Array } | undefined {
  const end = data.length - TAIL.length;
  if (end < HEAD.length || data.compare(HEAD, 0, HEAD.length, 0, HEAD.length) !== 0 || data.compare(TAIL, 0, TAIL.length, end) !== 0) return undefined;
  const nodes: (TreeNode | undefined)[] = [];
  const ranges: number[] = [];
  for (let start = HEAD.length; start < end; ) {
    if (scan) {
      scan.reserve(nodes.length + 1);
      const got = scan.run(data, start, end, nodes.length);
      if (got > 0) {
        for (let j = 0; j < got; j++) {
          const k = nodes.length;
          nodes.push(undefined);
          ranges.push(scan.ranges[2 * k]!, scan.ranges[2 * k + 1]!);
        }
        start = ranges[ranges.length - 1]! + 1;
        continue;
      }
    }
    const k = data.indexOf(BETWEEN, start);
    const cut = k >= 0 && k < end ? k + 1 : end;
    let node: unknown;
    try {
      node = JSON.parse(data.toString('utf8', start, cut));
    } catch {
      return undefined;
    }
    if (node === null || typeof node !== 'object' || Array.isArray(node)) return undefined;
    nodes.push(node as TreeNode);
    ranges.push(start, cut);
    start = cut + 1;
  }
  return { nodes, ranges: Uint32Array.from(ranges) };
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
