import { AppError } from '../kernel/index.js';
import { decodeTree, joinPath, nameBytes, type Tree, type TreeNode } from './node.js';

export interface TreeLoader {
  loadBlob(id: Uint8Array): Promise<Buffer>;
}

export async function loadTree(loader: TreeLoader, id: string): Promise<Tree> {
  const data = await loader.loadBlob(Buffer.from(id, 'hex'));
  try {
    return decodeTree(data);
  } catch (err) {
    throw new AppError('CORRUPT', `tree ${id} is not a valid tree.`, { cause: err });
  }
}

export type Visit = (path: Buffer, node: TreeNode) => Promise<boolean | void> | boolean | void;

/**
 * Depth-first walk of a snapshot tree; `visit` sees every node with its full
 * snapshot path (bytes) and may return false to skip a directory's contents.
 */
export async function walkTree(loader: TreeLoader, treeId: string, visit: Visit, base: Buffer = Buffer.from('/')): Promise<void> {
  const tree = await loadTree(loader, treeId);
  for (const node of tree.nodes) {
    const p = joinPath(base, nameBytes(node));
    const descend = await visit(p, node);
    if (node.type === 'dir' && node.subtree && descend !== false) await walkTree(loader, node.subtree, visit, p);
  }
}

/** Finds the node at a snapshot path ("/" is the root, returned as a synthetic dir). */
export async function findNode(loader: TreeLoader, rootTree: string, path: string): Promise<TreeNode | undefined> {
  const parts = path.split('/').filter((p) => p.length > 0);
  let node: TreeNode = { name: '/', type: 'dir', mode: 0o755, uid: 0, gid: 0, mtimeNs: '0', subtree: rootTree };
  for (const part of parts) {
    if (node.type !== 'dir' || !node.subtree) return undefined;
    const tree = await loadTree(loader, node.subtree);
    const next = tree.nodes.find((n) => n.name === part || nameBytes(n).equals(Buffer.from(part)));
    if (!next) return undefined;
    node = next;
  }
  return node;
}
