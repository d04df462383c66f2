import { createHash } from 'node:crypto';
import { hostname, userInfo } from 'node:os';
import * as path from 'node:path';
import { isUtf8 } from 'node:buffer';
import { AppError, errnoCode, nullSink, systemClock, throwIfAborted, type ProgressCounters, type ProgressSink } from '../../kernel/index.js';
import { blobId, BlobSaver, buildListing, listDirectory, entryStat, F_CTIME_S, F_DEV, F_GID, F_INO, F_MODE, F_MTIME_S, F_NLINK, F_SIZE, F_UID, Listing, readXattrs, SourceReadError, type XattrRead, type BlobEncoder, type ChunkedFile, type EntryStat, type FileChunker, type Repository, type SmallResult } from '../../repo/index.js';
import { decodeTree, encodeName, encodeTree, joinPath, loadTree, nameBytes, type Snapshot, type SnapshotRef, type SnapshotSummary, type SnapshotWarning, type TreeNode } from '../../tree/index.js';
import { compileExcludes, matchesNothing, type Matcher } from '../glob.js';
import { OwnerNames } from './owners.js';
import { LIST_JOB, nameKey, nodeKey, type ListInput, type ListOutput, type ParentMatch } from './parent-match.js';
import { Semaphore } from '../semaphore.js';
import { SmallBatcher } from './small-batcher.js';
import { nodeFs, type SourceFs } from './source-fs.js';

export interface BackupOptions {
  repo: Repository;
  /** Chunks, hashes and encodes on worker threads. */
  pipeline: BlobEncoder & FileChunker;
  paths: string[];
  excludes?: string[];
  tags?: string[];
  host?: string;
  /** The snapshot to compare against; unchanged files (size, mtime, inode) are not read again. */
  parent?: SnapshotRef;
  signal?: AbortSignal;
  sink?: ProgressSink;
  now?: () => Date;
  fs?: SourceFs;
  /** Files read at once within a directory. */
  fileConcurrency?: number;
  /** Workers in the pipeline (bounds the chunks of a stream encoded at once). */
  pipelineSize?: number;
  /** Scan ahead for totals (for ETA); off when nobody shows it. */
  estimate?: boolean;
  program?: string;
}

export interface BackupResult {
  id: string;
  snapshot: Snapshot;
}

const MAX_WARNINGS_KEPT = 1000;

/**
 * Backs up paths into a new snapshot. Source read problems become warnings (the
 * snapshot is marked partial); any storage failure aborts before the snapshot is
 * written, so a snapshot is visible only when every object it needs is durable.
 */
export async function backup(opts: BackupOptions): Promise<BackupResult> {
  const started = (opts.now ?? (() => systemClock.now()))();
  const t0 = performance.now();
  const run = new BackupRun(opts);
  const roots = await resolveRoots(opts.paths, opts.fs ?? nodeFs);
  return writeSnapshot(opts.repo, run.saver, opts.signal, async () => {
    if (opts.estimate) void run.estimate(roots.map((r) => r.abs));
    const rootTree = await run.saveRoots(roots);
    await run.saver.flush();
    run.emitProgress(true);
    return {
      version: 1,
      time: started.toISOString(),
      host: opts.host ?? hostname(),
      username: safeUser(),
      paths: roots.map((r) => r.abs),
      tags: [...new Set(opts.tags ?? [])].sort(),
      ...(opts.parent ? { parent: opts.parent.id } : {}),
      tree: rootTree,
      partial: run.warningCount > 0,
      warnings: run.warnings,
      warningCount: run.warningCount,
      summary: run.summary(Math.round(performance.now() - t0)),
      program: opts.program ?? 'strongbox',
    };
  });
}

/**
 * The one way a snapshot is written, for file and application snapshots alike:
 * under a shared lock, `build` saves (and flushes) every blob and returns the
 * manifest; then, if the run was not cancelled and still holds its lock, the
 * manifest is written last — so a snapshot is visible only when everything it
 * needs is durable. On any failure the saver salvages what it wrote (indexed,
 * so a re-run reuses it) and no snapshot appears.
 */
export async function writeSnapshot(repo: Repository, saver: BlobSaver, signal: AbortSignal | undefined, build: () => Promise<Snapshot>): Promise<{ id: string; snapshot: Snapshot }> {
  const lock = await repo.lock(false);
  try {
    const snapshot = await build();
    throwIfAborted(signal);
    await lock.assertHeld();
    const id = await repo.saveJSON('snapshots', snapshot);
    return { id, snapshot };
  } catch (err) {
    await saver.salvage();
    throw err;
  } finally {
    await lock.release().catch(() => undefined);
  }
}

interface Root {
  abs: string;
  parts: Buffer[];
}

async function resolveRoots(paths: string[], sfs: SourceFs): Promise<Root[]> {
  if (paths.length === 0) throw new AppError('USAGE', 'Nothing to back up: give at least one --path.');
  const roots: Root[] = [];
  for (const p of paths) {
    const abs = path.resolve(p);
    try {
      await sfs.lstat(Buffer.from(abs));
    } catch (err) {
      throw new AppError('INVALID_ARGUMENT', `Cannot back up ${abs}: ${errnoCode(err) === 'ENOENT' ? 'it does not exist' : (err as Error).message}.`, { cause: err });
    }
    roots.push({ abs, parts: abs.split('/').filter((x) => x.length > 0).map((x) => Buffer.from(x)) });
  }
  const unique = [...new Map(roots.map((r) => [r.abs, r])).values()];
  for (const a of unique) for (const b of unique) {
    if (a !== b && (b.abs === '/' || a.abs.startsWith(b.abs + '/'))) {
      throw new AppError('INVALID_ARGUMENT', `${a.abs} lies inside ${b.abs}; give only the outer path.`);
    }
  }
  return unique.sort((a, b) => a.abs.localeCompare(b.abs));
}

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}

export class BackupRun {
  readonly saver: BlobSaver;
  readonly counters: ProgressCounters = { files: 0, dirs: 0, bytes: 0, newBytes: 0 };
  readonly warnings: SnapshotWarning[] = [];
  warningCount = 0;
  newFiles = 0;
  changedFiles = 0;
  unchangedFiles = 0;
  private readonly sfs: SourceFs;
  private readonly sink: ProgressSink;
  private exclude: Matcher;
  /** False when nothing is excluded: the walk then builds no path strings for the matcher. */
  private get excluding(): boolean {
    return this.exclude !== matchesNothing;
  }
  private readonly owners = new OwnerNames();
  private readonly hardlinks = new Map<string, string>();
  private readonly concurrency: number;
  private lastEmit = -Infinity;
  private current = '';
  /** Bounds large files read at once across all directory levels (memory: one buffer each). */
  private readonly readers: Semaphore;
  private readonly batcher: SmallBatcher;

  constructor(private readonly opts: BackupOptions) {
    this.saver = new BlobSaver(opts.repo, opts.pipeline);
    this.sfs = opts.fs ?? nodeFs;
    this.sink = opts.sink ?? nullSink;
    this.exclude = compileExcludes(opts.excludes ?? []);
    this.concurrency = opts.fileConcurrency ?? 8;
    this.readers = new Semaphore(this.concurrency);
    this.batcher = new SmallBatcher(opts.pipeline, (id) => this.saver.claim(id), (id) => this.saver.unclaim(id));
  }

  summary(durationMs: number): SnapshotSummary {
    const s = this.saver.stats;
    return {
      files: this.counters.files,
      dirs: this.counters.dirs,
      bytes: this.counters.bytes,
      newFiles: this.newFiles,
      changedFiles: this.changedFiles,
      unchangedFiles: this.unchangedFiles,
      newBytes: s.newRawBytes,
      storedBytes: s.newStoredBytes,
      durationMs,
    };
  }

  warn(p: Buffer | string, message: string): void {
    const pathStr = typeof p === 'string' ? p : p.toString('utf8');
    this.warningCount++;
    if (this.warnings.length < MAX_WARNINGS_KEPT) this.warnings.push({ path: pathStr, message });
    this.sink.emit({ type: 'warning', path: pathStr, message });
  }

  emitProgress(force = false): void {
    // A monotonic clock that makes no object: this runs for every file.
    const now = performance.now();
    if (!force && now - this.lastEmit < 200) return;
    this.lastEmit = now;
    this.counters.newBytes = this.saver.stats.newRawBytes;
    this.sink.emit({ type: 'progress', counters: { ...this.counters }, current: this.current });
  }

  /** Scans ahead for totals; yields to the event loop often so it never delays the real work. */
  async estimate(roots: string[]): Promise<void> {
    let files = 0;
    let bytes = 0;
    const dir = async (p: Buffer): Promise<void> => {
      if (this.opts.signal?.aborted) return;
      await new Promise((r) => setImmediate(r));
      let list: Listing;
      try {
        // One listing per directory (no object per entry), as the walk itself lists.
        list = this.opts.fs ? await this.list(p, false) : new Listing(listDirectory(p));
      } catch {
        return;
      }
      for (let i = 0; i < list.length; i++) {
        const name = list.name(i);
        if (list.failure(i) || (this.excluding && this.exclude(joinPath(p, name).toString('utf8'), name.toString('utf8')))) continue;
        if (list.kind(i) === 'dir') await dir(joinPath(p, name));
        else {
          files++;
          if (list.isFile(i)) bytes += list.num(i, F_SIZE);
        }
      }
    };
    for (const r of roots) {
      const p = Buffer.from(r);
      let st: Awaited<ReturnType<SourceFs['lstat']>>;
      try {
        st = await this.sfs.lstat(p);
      } catch {
        continue;
      }
      if (st.isDirectory()) await dir(p);
      else {
        files++;
        if (st.isFile()) bytes += Number(st.size);
      }
    }
    if (!this.opts.signal?.aborted) {
      this.counters.totalFiles = files;
      this.counters.totalBytes = bytes;
    }
  }

  /** Builds the root tree: the roots' ancestors as directories, with the real directories' metadata. */
  async saveRoots(roots: Root[]): Promise<string> {
    const parentRoot = this.opts.parent?.snapshot.tree;
    const build = async (prefix: Buffer[], members: Root[], parentTree: string | undefined): Promise<string> => {
      const groups = new Map<string, Root[]>();
      for (const r of members) {
        const key = r.parts[prefix.length]!.toString('hex');
        groups.set(key, [...(groups.get(key) ?? []), r]);
      }
      const parentNodes = await this.parentNodes(parentTree);
      const nodes: TreeNode[] = [];
      for (const [key, group] of groups) {
        const name = Buffer.from(key, 'hex');
        const absBytes = Buffer.concat([...prefix, name].flatMap((b) => [Buffer.from('/'), b]));
        const prev = parentNodes.get(nameKey(name));
        if (group.some((r) => r.parts.length === prefix.length + 1)) {
          const node = await this.saveEntry(absBytes, name, prev);
          if (node) nodes.push(node);
        } else {
          const st = entryStat(await this.sfs.lstat(absBytes));
          const subtree = await build([...prefix, name], group, prev?.type === 'dir' ? prev.subtree : undefined);
          nodes.push({ ...this.baseNode(name, st, 'dir'), subtree });
        }
      }
      return this.saveTree(nodes);
    };
    if (roots.some((r) => r.parts.length === 0)) {
      // Backing up "/" itself: the root tree is the root directory's tree.
      return this.saveDir(Buffer.from('/'), parentRoot);
    }
    return build([], roots, parentRoot);
  }

  /** The parent's nodes of a directory by name (`nameKey`). */
  private async parentNodes(treeId: string | undefined): Promise<Map<string, TreeNode>> {
    return (await this.parentTree(treeId)).byName;
  }

  /** The parent snapshot's tree of a directory: its nodes in order and by name; none when unreadable. */
  private async parentTree(treeId: string | undefined): Promise<ParentTree> {
    const byName = new Map<string, TreeNode>();
    if (!treeId) return { nodes: [], byName };
    try {
      const tree = await loadTree(this.opts.repo, treeId);
      for (const n of tree.nodes) byName.set(n.nameRaw === undefined ? n.name : nameKey(nameBytes(n)), n);
      return { id: treeId, nodes: tree.nodes, byName };
    } catch {
      /* an unreadable parent tree only costs re-reading */
      return { nodes: [], byName };
    }
  }

  /** Stores a directory's tree; `sorted`: the nodes are already in the order of their names' bytes. */
  async saveTree(nodes: readonly (TreeNode | Uint8Array)[], sorted = false): Promise<string> {
    const data = encodeTree(nodes, sorted);
    const id = blobId(this.opts.repo.master.mac, data);
    await this.saver.save('tree', id, data);
    return id.toString('hex');
  }

  private baseNode(name: Buffer, st: EntryStat, type: TreeNode['type']): TreeNode {
    const uid = st.uid;
    const gid = st.gid;
    const mode = st.mode & 0o7777;
    const mtimeNs = st.mtimeNs;
    // One literal, keys in the tree's order (no spread: a node per entry of every directory).
    const node: TreeNode = isUtf8(name) ? { name: name.toString('utf8'), type, mode, uid, gid, mtimeNs } : { name: name.toString('utf8'), nameRaw: name.toString('base64'), type, mode, uid, gid, mtimeNs };
    const user = this.owners.user(uid);
    const group = this.owners.group(gid);
    if (user !== undefined) node.user = user;
    if (group !== undefined) node.group = group;
    return node;
  }

  /** Saves one directory entry; returns undefined when it is excluded or vanished. */
  private async saveEntry(p: Buffer, name: Buffer, prev: TreeNode | undefined): Promise<TreeNode | undefined> {
    throwIfAborted(this.opts.signal);
    if (this.exclude(p.toString('utf8'), name.toString('utf8'))) return undefined;
    const st = await this.stat(p);
    return st ? this.saveStatted(p, name, st, prev) : undefined;
  }

  private async stat(p: Buffer): Promise<EntryStat | undefined> {
    try {
      return entryStat(await this.sfs.lstat(p));
    } catch (err) {
      this.warn(p, `cannot stat: ${describe(err)}`);
      return undefined;
    }
  }

  private async saveStatted(p: Buffer, name: Buffer, st: EntryStat, prev: TreeNode | undefined): Promise<TreeNode | undefined> {
    if (st.kind === 'dir') {
      let subtree: string;
      try {
        subtree = await this.saveDir(p, prev?.type === 'dir' ? prev.subtree : undefined);
      } catch (err) {
        if (!isSourceError(err)) throw err;
        this.warn(p, `cannot read directory: ${describe(err)}`);
        return undefined;
      }
      this.counters.dirs++;
      return this.withXattrs(p, { ...this.baseNode(name, st, 'dir'), subtree });
    }
    if (st.kind === 'symlink') {
      try {
        const target = await this.sfs.readlink(p);
        const enc = encodeName(target);
        this.counters.files++;
        return { ...this.baseNode(name, st, 'symlink'), target: enc.name, ...(enc.nameRaw ? { targetRaw: enc.nameRaw } : {}) };
      } catch (err) {
        this.warn(p, `cannot read link: ${describe(err)}`);
        return undefined;
      }
    }
    if (st.kind === 'file') return this.saveFileNode(p, name, st, prev);
    const type = st.kind;
    this.counters.files++;
    return { ...this.baseNode(name, st, type), ...(type === 'chardev' || type === 'blockdev' ? { rdev: st.rdev } : {}) };
  }

  /**
   * Saves a directory: its listing (names and lstat metadata) comes from a pipeline
   * worker; a file the parent snapshot has with the same metadata keeps the parent's
   * node without any object made for it here; small files go to the pool in batches
   * (all of them at once, bounded by the batcher); subdirectories and large files run
   * a few at a time; the tree keeps the entries in name order.
   */
  private async saveDir(p: Buffer, parentTree: string | undefined): Promise<string> {
    this.current = p.toString('utf8');
    if (parentTree !== undefined && !this.opts.fs && (this.opts.repo.index.get(Buffer.from(parentTree, 'hex'))?.rawLength ?? 0) >= MATCH_MIN_BYTES) {
      const { list, tree, match } = await this.listAgainst(p, parentTree);
      if (match && tree) return this.saveMatched(p, list, parentTree, tree, match);
      return this.saveListed(p, list, tree ? this.parsedParent(parentTree, tree) : { nodes: [], byName: new Map() });
    }
    const [list, parent] = await Promise.all([this.list(p, parentTree !== undefined), this.parentTree(parentTree)]);
    return this.saveListed(p, list, parent);
  }

  /** Saves a listed directory against its parent's nodes (parsed): a first snapshot, or a parent tree not in this Strongbox's encoding. */
  private async saveListed(p: Buffer, list: Listing, parent: ParentTree): Promise<string> {
    const prev = parent.byName;
    const nodes: (TreeNode | undefined)[] = new Array(list.length);
    const small: Promise<void>[] = [];
    const rest: number[] = [];
    for (let i = 0; i < list.length; i++) {
      throwIfAborted(this.opts.signal);
      const name = list.name(i);
      if (this.skipped(p, list, i, name)) continue;
      if (!list.isFile(i) || list.num(i, F_NLINK) !== 1) {
        rest.push(i);
        continue;
      }
      const before = prev.get(nameKey(name));
      if (before && this.listedSameAsBefore(list, i, before)) {
        this.keepUnchanged(before.size);
        nodes[i] = before;
        continue;
      }
      if (!(await this.startSmall(p, list, i, name, before, nodes, small))) rest.push(i);
    }
    await this.finishDir(p, list, rest, small, nodes, (i) => prev.get(nameKey(list.name(i))));
    const kept = nodes.filter((n): n is TreeNode => n !== undefined);
    // Nothing changed in this directory: its tree is the parent's, with nothing to encode, hash or store.
    if (parent.id !== undefined && sameNodes(kept, parent.nodes) && this.saver.knownHex(parent.id)) return parent.id;
    return this.saveTree(kept, true);
  }

  /**
   * Saves a directory listed against its parent's tree on a worker (`matchParent`): an
   * unchanged file's node is the parent's encoding, copied into the new tree unparsed;
   * only the other entries' parent nodes are parsed, one by one.
   */
  private async saveMatched(p: Buffer, list: Listing, parentId: string, treeBytes: Uint8Array, m: ParentMatch): Promise<string> {
    const tree = Buffer.from(treeBytes.buffer, treeBytes.byteOffset, treeBytes.byteLength);
    const ids = Buffer.from(m.ids.buffer, m.ids.byteOffset, m.ids.byteLength);
    const ownersHere = m.owners.map(([uid, user, gid, group]) => (user ?? undefined) === this.owners.user(uid) && (group ?? undefined) === this.owners.group(gid));
    const prevOf = (i: number): TreeNode | undefined => (m.parent[i]! < 0 ? undefined : (JSON.parse(tree.toString('utf8', m.start[i], m.end[i])) as TreeNode));
    const nodes: (TreeNode | Buffer | undefined)[] = new Array(list.length);
    const small: Promise<void>[] = [];
    const rest: number[] = [];
    let idAt = 0;
    for (let i = 0; i < list.length; i++) {
      throwIfAborted(this.opts.signal);
      const from = idAt;
      idAt += 32 * m.idCount[i]!;
      const name = list.name(i);
      if (this.skipped(p, list, i, name)) continue;
      if (!list.isFile(i) || list.num(i, F_NLINK) !== 1) {
        rest.push(i);
        continue;
      }
      if (m.same[i] && ownersHere[m.owner[i]!] && this.idsKnown(ids, from, idAt)) {
        this.keepUnchanged(list.num(i, F_SIZE));
        nodes[i] = KEPT;
        continue;
      }
      if (!(await this.startSmall(p, list, i, name, prevOf(i), nodes, small))) rest.push(i);
    }
    await this.finishDir(p, list, rest, small, nodes, prevOf);
    // The new tree: made nodes, and the kept ones as ranges of the parent's text, neighbours as one range.
    const kept: (TreeNode | Buffer)[] = [];
    let count = 0;
    let asParent = true;
    let runStart = -1;
    let runEnd = -1;
    for (let i = 0; i < list.length; i++) {
      const n = nodes[i];
      if (n === undefined) continue;
      // The parent's tree again when every node is the parent's, in its place: kept, or made again with the same bytes (a directory whose tree is the same).
      if (asParent && (m.parent[i] !== count || (n !== KEPT && !sameEncoding(n as TreeNode, tree.subarray(m.start[i], m.end[i]))))) asParent = false;
      count++;
      if (n === KEPT && runStart >= 0 && m.start[i] === runEnd + 1) {
        runEnd = m.end[i]!;
        continue;
      }
      if (runStart >= 0) kept.push(tree.subarray(runStart, runEnd));
      runStart = -1;
      if (n === KEPT) [runStart, runEnd] = [m.start[i]!, m.end[i]!];
      else kept.push(n as TreeNode);
    }
    if (runStart >= 0) kept.push(tree.subarray(runStart, runEnd));
    if (asParent && count === m.nodes && this.saver.knownHex(parentId)) return parentId;
    return this.saveTree(kept, true);
  }

  /** Whether the content ids in `ids` between `from` and `to` are all stored (or being stored). */
  private idsKnown(ids: Buffer, from: number, to: number): boolean {
    for (let o = from; o < to; o += 32) if (!this.saver.knownAt(ids, o)) return false;
    return true;
  }

  /** An entry the walk leaves out: excluded, or its lstat failed (a warning). */
  private skipped(p: Buffer, list: Listing, i: number, name: Buffer): boolean {
    if (this.excluding && this.exclude(joinPath(p, name).toString('utf8'), name.toString('utf8'))) return true;
    const failed = list.failure(i);
    if (!failed) return false;
    this.warn(joinPath(p, name), `cannot stat: ${describe(Object.assign(new Error(failed.message), { code: failed.code }))}`);
    return true;
  }

  /** A small file that changed goes to the pool's next batch (false: not small, or unchanged but kept differently: the caller saves it). */
  private async startSmall(p: Buffer, list: Listing, i: number, name: Buffer, before: TreeNode | undefined, nodes: (TreeNode | Buffer | undefined)[], small: Promise<void>[]): Promise<boolean> {
    if (list.num(i, F_SIZE) > this.opts.repo.chunker.params.min || this.listedUnchanged(list, i, before)) return false;
    const child = joinPath(p, name);
    const node = this.fileNode(name, list.stat(i));
    const ticket = await this.batcher.add(child, node.size!);
    small.push(this.saveSmallFile(child, name, node, before, ticket.result).then((n) => void (nodes[i] = n)));
    return true;
  }

  /** Subdirectories and large files, a few at a time, then every small file's batch. */
  private async finishDir(p: Buffer, list: Listing, rest: number[], small: Promise<void>[], nodes: (TreeNode | Buffer | undefined)[], prevOf: (i: number) => TreeNode | undefined): Promise<void> {
    this.batcher.flushSoon();
    let next = 0;
    const worker = async () => {
      for (;;) {
        const k = next++;
        if (k >= rest.length) return;
        const i = rest[k]!;
        const name = list.name(i);
        nodes[i] = await this.saveStatted(joinPath(p, name), name, list.stat(i), prevOf(i));
      }
    };
    const settled = await Promise.allSettled([...small, ...Array.from({ length: Math.min(this.concurrency, rest.length) }, worker)]);
    for (const r of settled) if (r.status === 'rejected') throw r.reason;
  }

  /** A directory listed on a worker against its parent's tree, read here; no tree to compare with when the parent's cannot be read. */
  private async listAgainst(p: Buffer, treeId: string): Promise<{ list: Listing; tree?: Uint8Array; match?: ParentMatch }> {
    let tree: Uint8Array | undefined;
    try {
      const data = await this.opts.repo.loadBlob(Buffer.from(treeId, 'hex'));
      // Moved to the worker: a buffer of its own.
      tree = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength && !(data.buffer instanceof SharedArrayBuffer) ? new Uint8Array(data.buffer, 0, data.byteLength) : new Uint8Array(data);
    } catch {
      /* an unreadable parent tree only costs re-reading */
    }
    const out = await this.opts.pipeline.run<ListOutput>(LIST_JOB, { path: new Uint8Array(p), ...(tree ? { tree } : {}) } satisfies ListInput, tree ? [tree.buffer as ArrayBuffer] : []);
    return { list: new Listing(out.listing), ...(out.tree ? { tree: out.tree } : {}), ...(out.match ? { match: out.match } : {}) };
  }

  /** The parent's tree parsed here (when the worker could not match it). */
  private parsedParent(id: string, data: Uint8Array): ParentTree {
    const byName = new Map<string, TreeNode>();
    try {
      const nodes = decodeTree(Buffer.from(data.buffer, data.byteOffset, data.byteLength)).nodes;
      for (const n of nodes) byName.set(nodeKey(n), n);
      return { id, nodes, byName };
    } catch {
      return { nodes: [], byName };
    }
  }

  /**
   * A directory's listing. With a parent tree to compare against, the walk is what limits
   * an incremental snapshot and the workers wait: they list. Without one every file is
   * read, the workers are what limits, and the main thread, idle otherwise, lists
   * (on a worker a listing waited behind chunk jobs: 1.09x the time of a first snapshot).
   */
  private async list(p: Buffer, compare: boolean): Promise<Listing> {
    if (!this.opts.fs && compare) return new Listing(await this.opts.pipeline.listDir(p));
    if (!this.opts.fs) return new Listing(listDirectory(p));
    const names = (await this.sfs.readdir(p)).sort(Buffer.compare);
    const stats = await Promise.all(names.map((n) => this.sfs.lstat(joinPath(p, n)).catch((err: unknown) => err as Error)));
    let k = 0;
    // buildListing visits the (already sorted) names in order.
    return new Listing(
      buildListing(names, () => {
        const st = stats[k++]!;
        if (st instanceof Error) throw st;
        return st;
      }),
    );
  }

  /**
   * Saves a directory as the node `name` (an application's files component),
   * with its own excludes. Undefined when it cannot be read (a warning says why).
   */
  async saveDirectoryAs(abs: string, name: string, excludes: string[], prev: TreeNode | undefined): Promise<TreeNode | undefined> {
    const saved = this.exclude;
    this.exclude = compileExcludes(excludes);
    try {
      const p = Buffer.from(abs);
      const st = await this.stat(p);
      if (!st) return undefined;
      if (st.kind !== 'dir') throw new AppError('INVALID_ARGUMENT', `${abs} is not a directory.`);
      const node = await this.saveStatted(p, Buffer.from(name), st, prev);
      return node ? { ...node, ...encodeName(Buffer.from(name)) } : undefined;
    } finally {
      this.exclude = saved;
    }
  }

  /**
   * Chunks a stream (a database dump) straight into the repository: FastCDC on
   * the main thread as bytes arrive, only new chunks go to the pool to be
   * compressed and sealed, with a bounded number in flight. Returns the file
   * node and the SHA-256 of the whole stream.
   */
  async saveStream(stream: AsyncIterable<Buffer> | Iterable<Buffer>, name: string): Promise<{ node: TreeNode; sha256: string; bytes: number }> {
    const repo = this.opts.repo;
    const chunker = repo.chunker;
    const max = chunker.params.max;
    const hash = createHash('sha256');
    const content: string[] = [];
    const inflight = new Semaphore(2 * (this.opts.pipelineSize ?? 2) + 2);
    const tasks = new Set<Promise<void>>();
    let failure: unknown;
    let buf = Buffer.allocUnsafe(2 * max);
    let start = 0;
    let filled = 0;
    let total = 0;
    const emitChunk = async (chunk: Buffer) => {
      const id = blobId(repo.master.mac, chunk);
      content.push(id.toString('hex'));
      if (this.saver.claim(id)) {
        await inflight.acquire();
        if (failure !== undefined) throw failure;
        const raw = Buffer.from(chunk);
        const t = this.opts.pipeline.encode(raw).then(
          (sealed) => this.saver.addSealed('data', id, sealed, raw.length),
          (err: unknown) => {
            this.saver.unclaim(id);
            failure ??= err;
          },
        );
        const tracked = t.finally(() => {
          inflight.release();
          tasks.delete(tracked);
        });
        tasks.add(tracked);
      }
      this.emitProgress();
      await this.saver.room();
    };
    for await (const data of stream) {
      throwIfAborted(this.opts.signal);
      if (failure !== undefined) throw failure;
      hash.update(data);
      total += data.length;
      // Bytes count as they arrive, so progress moves even while the chunker fills its window.
      this.counters.bytes += data.length;
      this.emitProgress();
      let off = 0;
      while (off < data.length) {
        if (filled === buf.length) {
          // Keep the unconsumed tail at the front; grow only if one chunk cannot fit.
          if (start > 0) {
            buf.copy(buf, 0, start, filled);
            filled -= start;
            start = 0;
          } else {
            const bigger = Buffer.allocUnsafe(buf.length * 2);
            buf.copy(bigger, 0, 0, filled);
            buf = bigger;
          }
        }
        const n = Math.min(buf.length - filled, data.length - off);
        data.copy(buf, filled, off, off + n);
        filled += n;
        off += n;
        while (filled - start >= max) {
          const len = chunker.cut(buf, start, filled);
          await emitChunk(buf.subarray(start, start + len));
          start += len;
        }
      }
    }
    while (start < filled) {
      const len = chunker.cut(buf, start, filled);
      await emitChunk(buf.subarray(start, start + len));
      start += len;
    }
    await Promise.all([...tasks]);
    if (failure !== undefined) throw failure;
    this.counters.files++;
    this.emitProgress();
    const now = BigInt(systemClock.now().getTime()) * 1_000_000n;
    const node: TreeNode = { ...encodeName(Buffer.from(name)), type: 'file', mode: 0o600, uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0, mtimeNs: now.toString(), size: total, content };
    return { node, sha256: hash.digest('hex'), bytes: total };
  }

  /**
   * Saves records made in memory (manifests) and directories on this machine
   * as one directory `name`, each at its relative path. The records' and their
   * folders' times are fixed (the epoch), so an unchanged record gives the
   * same node and an unchanged folder the same tree: a diff between two
   * snapshots shows only what changed. A directory that cannot be read is a
   * warning and is left out.
   */
  async saveLayout(name: string, files: { path: string; data: Buffer }[], dirs: { path: string; dir: string }[], prev: TreeNode | undefined): Promise<TreeNode> {
    interface Folder {
      files: Map<string, Buffer>;
      folders: Map<string, Folder>;
      disk?: string;
    }
    const root: Folder = { files: new Map(), folders: new Map() };
    const folderAt = (parts: string[]): Folder => {
      let f = root;
      for (const part of parts) {
        let next = f.folders.get(part);
        if (!next) f.folders.set(part, (next = { files: new Map(), folders: new Map() }));
        f = next;
      }
      return f;
    };
    const split = (p: string) => p.split('/').filter((s) => s !== '' && s !== '.' && s !== '..');
    for (const f of files) {
      const parts = split(f.path);
      folderAt(parts.slice(0, -1)).files.set(parts[parts.length - 1]!, f.data);
    }
    for (const d of dirs) folderAt(split(d.path)).disk = d.dir;
    const build = async (f: Folder, as: string, before: TreeNode | undefined): Promise<TreeNode | undefined> => {
      throwIfAborted(this.opts.signal);
      if (f.disk) return this.saveDirectoryAs(f.disk, as, [], before?.type === 'dir' ? before : undefined);
      const prevChildren = before?.type === 'dir' && before.subtree ? await this.parentNodes(before.subtree) : new Map<string, TreeNode>();
      const nodes: TreeNode[] = [];
      for (const [n, data] of f.files) {
        const saved = await this.saveStream([data], n);
        nodes.push({ ...saved.node, mtimeNs: '0' });
      }
      for (const [n, sub] of f.folders) {
        const node = await build(sub, n, prevChildren.get(nameKey(Buffer.from(n))));
        if (node) nodes.push(node);
      }
      return { ...this.syntheticDir(as, await this.saveTree(nodes)), mtimeNs: '0' };
    };
    return (await build(root, name, prev))!;
  }

  /** A directory node made by Strongbox itself (an application or component folder in the snapshot). */
  syntheticDir(name: string, subtree: string): TreeNode {
    return { ...encodeName(Buffer.from(name)), type: 'dir', mode: 0o700, uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0, mtimeNs: (BigInt(systemClock.now().getTime()) * 1_000_000n).toString(), subtree };
  }

  private unchanged(st: EntryStat, prev: TreeNode | undefined): boolean {
    return prev?.type === 'file' && prev.size === st.size && prev.mtimeNs === st.mtimeNs && prev.inode === st.ino && this.contentKnown(prev);
  }

  /** `unchanged` on a listed entry, with no object made for it. */
  private listedUnchanged(list: Listing, i: number, prev: TreeNode | undefined): boolean {
    return prev?.type === 'file' && prev.size === list.num(i, F_SIZE) && prev.mtimeNs === list.timeNs(i, F_MTIME_S) && prev.inode === list.text(i, F_INO) && this.contentKnown(prev);
  }

  private contentKnown(prev: TreeNode): boolean {
    const ids = prev.content;
    if (ids) for (let k = 0; k < ids.length; k++) if (!this.saver.knownHex(ids[k]!)) return false;
    return true;
  }

  private fileNode(name: Buffer, st: EntryStat): TreeNode {
    const node = this.baseNode(name, st, 'file');
    node.size = st.size;
    node.inode = st.ino;
    node.dev = st.dev;
    node.links = st.nlink;
    node.ctimeNs = st.ctimeNs;
    return node;
  }

  /** Adds extended attributes where the file system has them; an unreadable one is a warning. */
  private withXattrs(p: Buffer, node: TreeNode, read: XattrRead = readXattrs(p)): TreeNode {
    if (read.error) this.warn(p, `extended attributes not saved: ${read.error}`);
    if (read.xattrs) node.xattrs = read.xattrs;
    return node;
  }

  /** Completes a small file from its batch result: stores its one chunk unless known. */
  private async saveSmallFile(p: Buffer, name: Buffer, node: TreeNode, prev: TreeNode | undefined, result: Promise<SmallResult>): Promise<TreeNode | undefined> {
    const r = await result;
    if (!r.ok && r.grew) {
      // It grew past one chunk since it was listed: saved as what it is now.
      const st = await this.stat(p);
      return st ? this.saveStatted(p, name, st, prev) : undefined;
    }
    if (!r.ok) {
      this.warn(p, `cannot read file: ${describe(Object.assign(new Error(r.message), { code: r.errno }))}`);
      return undefined;
    }
    if (r.xattrs || r.xattrError) this.withXattrs(p, node, { ...(r.xattrs ? { xattrs: r.xattrs } : {}), ...(r.xattrError ? { error: r.xattrError } : {}) });
    node.size = r.rawLength;
    node.content = [];
    if (r.rawLength > 0) {
      const id = Buffer.from(r.id);
      // Sealed only when this batch claimed it; otherwise it is stored or another file is storing it.
      if (r.sealed) this.saver.addSealed('data', id, Buffer.from(r.sealed.buffer, r.sealed.byteOffset, r.sealed.byteLength), r.rawLength);
      node.content.push(id.toString('hex'));
    }
    if (prev) this.changedFiles++;
    else this.newFiles++;
    this.counters.files++;
    this.counters.bytes += r.rawLength;
    this.emitProgress();
    await this.saver.room();
    return node;
  }

  /**
   * The parent's node itself when nothing about the file changed: same content (size,
   * mtime, inode, chunks stored), same ctime (so the same mode, owners, links and
   * attributes), same device and owner names. Most files of an incremental snapshot.
   */
  private sameAsBefore(st: EntryStat, prev: TreeNode | undefined): boolean {
    if (!prev || st.nlink !== 1 || prev.links !== 1 || prev.ctimeNs !== st.ctimeNs || !this.unchanged(st, prev)) return false;
    return prev.mode === (st.mode & 0o7777) && prev.uid === st.uid && prev.gid === st.gid && prev.dev === st.dev && prev.user === this.owners.user(st.uid) && prev.group === this.owners.group(st.gid);
  }

  /** `sameAsBefore` on a listed entry (a file with one link), with no object made for it. */
  private listedSameAsBefore(list: Listing, i: number, prev: TreeNode): boolean {
    if (prev.links !== 1 || prev.ctimeNs !== list.timeNs(i, F_CTIME_S) || !this.listedUnchanged(list, i, prev)) return false;
    const uid = list.num(i, F_UID);
    const gid = list.num(i, F_GID);
    return prev.mode === (list.num(i, F_MODE) & 0o7777) && prev.uid === uid && prev.gid === gid && prev.dev === list.text(i, F_DEV) && prev.user === this.owners.user(uid) && prev.group === this.owners.group(gid);
  }

  private keepUnchanged(size: number | undefined): void {
    this.unchangedFiles++;
    this.counters.files++;
    this.counters.bytes += size ?? 0;
    this.emitProgress();
  }

  private async saveFileNode(p: Buffer, name: Buffer, st: EntryStat, prev: TreeNode | undefined): Promise<TreeNode | undefined> {
    if (prev && this.sameAsBefore(st, prev)) {
      this.keepUnchanged(prev.size);
      return prev;
    }
    const node = this.fileNode(name, st);
    if (st.nlink > 1) {
      const key = `${st.dev}:${st.ino}`;
      const first = this.hardlinks.get(key);
      if (first !== undefined) {
        this.counters.files++;
        return { ...node, type: 'hardlink', linkTo: first, size: 0 };
      }
      this.hardlinks.set(key, p.toString('base64'));
    }
    if (prev && this.unchanged(st, prev)) {
      this.unchangedFiles++;
      this.counters.files++;
      this.counters.bytes += node.size ?? 0;
      this.emitProgress();
      // Attributes change the ctime: with the same ctime the parent's are still right.
      if (prev.ctimeNs === node.ctimeNs) {
        if (prev.xattrs) node.xattrs = prev.xattrs;
      } else this.withXattrs(p, node);
      return { ...node, content: prev.content ?? [] };
    }
    await this.readers.acquire();
    try {
      const read = await this.readContent(p, st.size);
      node.content = read.ids.map((id) => id.toString('hex'));
      this.withXattrs(p, node, { ...(read.xattrs ? { xattrs: read.xattrs } : {}), ...(read.xattrError ? { error: read.xattrError } : {}) });
    } catch (err) {
      if (!isSourceError(err)) throw err;
      this.warn(p, `cannot read file: ${describe(err)}`);
      return undefined;
    } finally {
      this.readers.release();
    }
    if (prev) this.changedFiles++;
    else this.newFiles++;
    this.counters.files++;
    this.emitProgress();
    return node;
  }

  /** Chunks, hashes and encodes a file on the worker pool; only new chunks are encoded and sent back. */
  private async readContent(p: Buffer, statSize: number): Promise<ChunkedFile> {
    const claimed: Buffer[] = [];
    try {
      const res = await this.opts.pipeline.chunkFile(p, statSize, {
        onIds: async (ids, lens) => {
          if (this.opts.signal?.aborted) return { mask: ids.map(() => false), abort: true };
          const mask = ids.map((id) => this.saver.claim(id));
          ids.forEach((id, i) => mask[i] && claimed.push(Buffer.from(id)));
          for (const l of lens) this.counters.bytes += l;
          this.emitProgress();
          await this.saver.room();
          return { mask, abort: false };
        },
        onBlob: (id, sealed, rawLength) => {
          this.saver.addSealed('data', id, sealed, rawLength);
          const k = claimed.findIndex((c) => c.equals(id));
          if (k >= 0) claimed.splice(k, 1);
        },
      });
      return res;
    } catch (err) {
      for (const id of claimed) this.saver.unclaim(id);
      throwIfAborted(this.opts.signal);
      throw err;
    }
  }
}

interface ParentTree {
  id?: string;
  nodes: TreeNode[];
  byName: Map<string, TreeNode>;
}

/**
 * True when a directory's new nodes are its parent tree's, in the same order: a file the
 * walk kept is the parent's very node, a subdirectory's node encodes the same.
 */
/**
 * The smallest parent tree (plaintext bytes, about 100 nodes) compared on a worker: a smaller
 * one is parsed here faster than it travels (an incremental snapshot of the default dataset,
 * 19 files a directory, took 1.07x the time when every directory went to a worker).
 */
const MATCH_MIN_BYTES = 32 * 1024;

/** A node of saveMatched's that is the parent's, as its text. */
const KEPT: TreeNode = Object.freeze({ name: '', type: 'file', mode: 0, uid: 0, gid: 0, mtimeNs: '0' });

/** Whether a directory node made again is the parent's, byte for byte. */
function sameEncoding(n: TreeNode, before: Buffer): boolean {
  return n.type === 'dir' && before.equals(Buffer.from(JSON.stringify(n)));
}

function sameNodes(nodes: TreeNode[], before: TreeNode[]): boolean {
  if (nodes.length !== before.length) return false;
  for (let i = 0; i < nodes.length; i++) {
    const a = nodes[i]!;
    const b = before[i]!;
    if (a !== b && (a.type !== 'dir' || b.type !== 'dir' || a.subtree !== b.subtree || JSON.stringify(a) !== JSON.stringify(b))) return false;
  }
  return true;
}

/** A name as the key of a directory's parent nodes: the name itself when it is UTF-8. */

function describe(err: unknown): string {
  const code = errnoCode(err);
  if (code === 'ENOENT') return 'it vanished during the backup (ENOENT)';
  if (code === 'EACCES' || code === 'EPERM') return `permission denied (${code})`;
  return err instanceof Error ? err.message : String(err);
}

/** Errors that come from reading the source (skip the item) rather than from the repository (fail). */
function isSourceError(err: unknown): boolean {
  return err instanceof SourceReadError || (!(err instanceof AppError) && errnoCode(err) !== undefined);
}
