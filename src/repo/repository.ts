import { randomBytes } from 'node:crypto';
import { AppError, mapConcurrent, newId, systemClock } from '../kernel/index.js';
import type { Backend, FileKind, ObjectWriter } from '../storage/index.js';
import { open, seal } from './crypto/aead.js';
import { decodeKeyFile, encodeKeyFile, keyFileProblem, newMasterKey, sha256, unwrapMasterKey, wrapMasterKey, type KeyFile, type MasterKey } from './crypto/keys.js';
import { LocalCache } from './cache.js';
import { createChunker, DEFAULT_CHUNKER, type Chunker, type ChunkerParams } from './chunker/fastcdc.js';
import { BlobCodec } from './format/blob.js';
import { configProblem, DEFAULT_PACK_SIZE, type RepoConfig } from './format/config.js';
import { BlobIndex, type BlobLocation } from './blob-index/blob-index.js';
import { decodeIndexFile, encodeIndexFile, scanIndexFile, type IndexedPack, type IndexFileContent } from './blob-index/index-file.js';
import { decodePackHeader, type PackedBlob } from './pack/pack.js';
import { conflicting, lockedError, newLockInfo, REFRESH_EVERY_MS, STALE_AFTER_MS, type LockInfo, type LockRecord } from './lock/lock.js';

/** Index files or manifests read at once from the store: a network store's latency paid once for several. */
const OBJECT_READS = 8;

export interface InitOptions {
  chunker?: ChunkerParams;
  packSize?: number;
  compressionLevel?: number;
  scrypt?: { N: number; r: number; p: number };
}

export interface KeyListing {
  id: string;
  current: boolean;
  created: string;
  host: string;
  username: string;
}

/** A pin: the snapshot it keeps, who pinned it, when, and why. */
export interface PinRecord {
  snapshot: string;
  by: string;
  time: string;
  reason?: string;
}

export interface LockHandle {
  readonly id: string;
  /**
   * Throws REPO_LOCKED when the lock may have been lost: its refresh failed for
   * so long that others may take it for stale (and a prune may then delete
   * data this holder is writing), or its lock object is gone. Holders call it
   * at their safe points, and always before they make a snapshot visible.
   */
  assertHeld(): Promise<void>;
  release(): Promise<void>;
}

/**
 * An open repository: the master key, config and blob index over a Backend.
 * Every object is sealed; content-addressed objects are named by the SHA-256 of
 * their stored bytes and verified against it when read.
 */
export class Repository {
  readonly index = new BlobIndex();
  /** Index files currently in force (not superseded), with their contents' pack ids. */
  readonly indexFiles = new Map<string, string[]>();
  readonly chunker: Chunker;
  readonly codec: BlobCodec;
  /** Network stores: sealed trees, index files and manifests kept locally (set by the composition root). */
  cache: LocalCache | undefined;

  private constructor(
    /** The store: only the repository touches it, so the layout has one owner (docs/DESIGN.md). */
    private readonly backend: Backend,
    readonly master: MasterKey,
    readonly config: RepoConfig,
    readonly keyId: string,
  ) {
    this.chunker = createChunker(config.chunker, Buffer.from(config.gearSeed, 'hex'));
    this.codec = new BlobCodec(master.encrypt, master.mac, config.compression.level);
  }

  static async init(backend: Backend, password: string, opts: InitOptions = {}): Promise<Repository> {
    if (await backend.isRepository()) {
      throw new AppError('REPO_EXISTS', `${backend.location} already holds a Strongbox repository; open it instead of initialising.`);
    }
    checkPassword(password);
    await backend.create();
    const master = newMasterKey();
    const config: RepoConfig = {
      version: 1,
      id: newId(),
      chunker: opts.chunker ?? DEFAULT_CHUNKER,
      gearSeed: randomBytes(32).toString('hex'),
      compression: { algorithm: 'zstd', level: opts.compressionLevel ?? 3 },
      packSize: opts.packSize ?? DEFAULT_PACK_SIZE,
    };
    const keyFile = await wrapMasterKey(master, password, opts.scrypt);
    const keyData = encodeKeyFile(keyFile);
    const keyId = sha256(keyData).toString('hex');
    await backend.put({ kind: 'keys', name: keyId }, keyData);
    // The config goes last: its presence is what makes the location a repository.
    await backend.put({ kind: 'config', name: 'config' }, seal(master.encrypt, Buffer.from(JSON.stringify(config))));
    return new Repository(backend, master, config, keyId);
  }

  static async open(backend: Backend, password: string): Promise<Repository> {
    const notFound = () => new AppError('REPO_NOT_FOUND', `There is no Strongbox repository at ${backend.location}. Check the location, or create one with "strongbox repo init".`);
    // The sealed config is needed anyway: reading it first spares a request that only asks whether
    // it exists. The keys are listed meanwhile: two requests in flight, not one after the other.
    const keys = (async () => {
      const names: string[] = [];
      for await (const k of backend.list('keys')) names.push(k.name);
      return names;
    })();
    keys.catch(() => undefined); // awaited below, unless the config's error comes first
    const sealedConfig = await backend.get({ kind: 'config', name: 'config' }).catch(async (err: unknown) => {
      if ((err instanceof AppError && err.code === 'NOT_FOUND') || !(await backend.isRepository().catch(() => true))) throw notFound();
      throw err;
    });
    const skipped: string[] = [];
    for (const name of await keys) {
      // A malformed key file is skipped, not fatal: another key may still open the repository.
      let master: MasterKey | undefined;
      try {
        const file = decodeKeyFile(await backend.get({ kind: 'keys', name }));
        const problem = keyFileProblem(file);
        if (problem) {
          skipped.push(`${name.slice(0, 8)}: ${problem}`);
          continue;
        }
        master = await unwrapMasterKey(file, password);
      } catch (err) {
        if (!(err instanceof AppError) || err.code !== 'CORRUPT') throw err;
        skipped.push(`${name.slice(0, 8)}: ${err.message}`);
        continue;
      }
      if (!master) continue;
      const plain = open(master.encrypt, sealedConfig, `the config of the repository at ${backend.location}`);
      let config: RepoConfig;
      try {
        config = JSON.parse(plain.toString('utf8')) as RepoConfig;
      } catch {
        throw new AppError('CORRUPT', `The config of the repository at ${backend.location} is not JSON.`);
      }
      const problem = configProblem(config);
      if (problem) throw new AppError('CORRUPT', `The repository at ${backend.location} cannot be used: ${problem}.`);
      return new Repository(backend, master, config, name);
    }
    throw new AppError('WRONG_PASSWORD', `Wrong password for the repository at ${backend.location}: no key opens with it${skipped.length ? ` (${skipped.length} malformed key file(s) skipped: ${skipped.slice(0, 3).join('; ')})` : ''}. Nothing was changed.`);
  }

  get location(): string {
    return this.backend.location;
  }

  /** Closes the store's connections. */
  async close(): Promise<void> {
    await this.backend.close();
  }

  // ---- packs ----

  /** Every pack file with its stored size. */
  packs(): AsyncIterable<{ name: string; size: number }> {
    return this.backend.list('data');
  }

  /** A pack's bytes, or a range of them. */
  readPack(name: string, range?: { offset: number; length: number }): Promise<Buffer> {
    return this.backend.get({ kind: 'data', name }, range);
  }

  /** Deletes what unfinished writes left (under the exclusive lock only); how many. */
  async removeTemporaries(): Promise<number> {
    return (await this.backend.removeTemporaries?.()) ?? 0;
  }

  /** True when packs can be written as their blobs arrive (local disks). */
  get streamsPackWrites(): boolean {
    return typeof this.backend.createWriter === 'function';
  }

  /** A pack written as its blobs arrive, where the store can (local disks); undefined elsewhere. */
  openPackWriter(): Promise<ObjectWriter> | undefined {
    return this.backend.createWriter?.('data');
  }

  /** True when the store reads ranges into a caller's buffer (local disks). */
  get readsPacksInto(): boolean {
    return typeof this.backend.getInto === 'function';
  }

  /** A range of a pack into `into` (see `readsPacksInto`); elsewhere a ranged read copied in. */
  async readPackInto(name: string, range: { offset: number; length: number }, into: Uint8Array): Promise<void> {
    if (this.backend.getInto) return this.backend.getInto({ kind: 'data', name }, range, into);
    into.set(await this.readPack(name, range));
  }

  /** True when the store streams ranges (a request costs more than its bytes): readers then ask for whole spans. */
  get streamsPacks(): boolean {
    return typeof this.backend.getStream === 'function';
  }

  /** A span of a pack in pieces as they arrive, in one request where the store streams; else in ranged reads of at most 8 MiB. */
  async *readPackStream(name: string, range: { offset: number; length: number }): AsyncIterable<Buffer> {
    if (this.backend.getStream) {
      yield* this.backend.getStream({ kind: 'data', name }, range);
      return;
    }
    for (let done = 0; done < range.length; ) {
      const n = Math.min(8 * 1024 * 1024, range.length - done);
      yield await this.readPack(name, { offset: range.offset + done, length: n });
      done += n;
    }
  }

  /** The blobs a pack's own (sealed) header lists: how an index is rebuilt from the packs alone. */
  async readPackHeader(name: string, size: number): Promise<PackedBlob[]> {
    const lenBuf = await this.readPack(name, { offset: size - 4, length: 4 });
    const hlen = lenBuf.readUInt32LE(0);
    const tailLen = Math.min(size, hlen + 4);
    const tail = await this.readPack(name, { offset: size - tailLen, length: tailLen });
    return decodePackHeader(this.master.encrypt, tail, size, name);
  }

  /** Writes a whole pack (its parts, header last), atomically. */
  async writePack(name: string, parts: Uint8Array | readonly Uint8Array[]): Promise<void> {
    await this.backend.put({ kind: 'data', name }, parts);
  }

  /** Deletes packs (prune); a pack already gone is not an error. */
  async removePack(name: string): Promise<void> {
    await this.backend.remove({ kind: 'data', name }, { missingOk: true });
  }

  /** Deletes index files another one supersedes; one already gone is not an error. */
  async removeIndexFile(name: string): Promise<void> {
    await this.backend.remove({ kind: 'index', name }, { missingOk: true });
  }

  // ---- sealed objects ----

  async saveObject(kind: Exclude<FileKind, 'data' | 'config'>, plain: Uint8Array): Promise<string> {
    const sealed = seal(this.master.encrypt, plain);
    const name = sha256(sealed).toString('hex');
    await this.backend.put({ kind, name }, sealed);
    // What this run wrote, the next one reads: kept locally once it is in the store.
    if (this.cache && (kind === 'index' || kind === 'snapshots')) this.cache.put(kind, name, sealed);
    return name;
  }

  async loadObject(kind: Exclude<FileKind, 'data' | 'config' | 'keys'>, name: string): Promise<Buffer> {
    // Index files and manifests never change (each is named by its bytes' hash): kept locally
    // for network stores, and taken from there only when they still match their name.
    const cached = this.cache && (kind === 'index' || kind === 'snapshots') ? this.cache.get(kind, name) : undefined;
    if (cached && sha256(cached).toString('hex') === name) {
      try {
        return open(this.master.encrypt, cached, `${kind} object ${name}`);
      } catch {
        /* a damaged entry: read the store */
      }
    }
    if (cached) this.cache!.drop(kind as 'index' | 'snapshots', name);
    const sealed = await this.backend.get({ kind, name });
    // Locks and pins are named by what they are about, not by their content.
    if (kind !== 'locks' && kind !== 'pins' && kind !== 'drills' && sha256(sealed).toString('hex') !== name) {
      throw new AppError('CORRUPT', `${kind} object ${name} does not match its name (damaged on storage).`);
    }
    const plain = open(this.master.encrypt, sealed, `${kind} object ${name}`);
    if (this.cache && (kind === 'index' || kind === 'snapshots')) this.cache.put(kind, name, sealed);
    return plain;
  }

  async saveJSON(kind: 'snapshots' | 'locks', value: unknown): Promise<string> {
    return this.saveObject(kind, Buffer.from(JSON.stringify(value)));
  }

  async loadJSON<T>(kind: 'snapshots' | 'locks', name: string): Promise<T> {
    return JSON.parse((await this.loadObject(kind, name)).toString('utf8')) as T;
  }

  // ---- pins ----

  /**
   * Pinned snapshots: one sealed object per pin (pins/<snapshot id>), so every
   * instance and the CLI see the same pins (docs/FORMAT.md). A pin object that
   * cannot be read still pins its snapshot: when in doubt, keep.
   */
  async listPins(): Promise<Map<string, PinRecord>> {
    const names = (await this.listNames('pins')).filter((name) => /^[0-9a-f]{64}$/.test(name));
    // Several in flight: each is a request on a network store.
    const recs = await mapConcurrent(names, OBJECT_READS, async (name): Promise<PinRecord | undefined> => {
      try {
        const rec = JSON.parse((await this.loadObject('pins', name)).toString('utf8')) as PinRecord | null;
        return rec?.snapshot === name ? rec : { snapshot: name, by: '(unreadable pin)', time: '' };
      } catch (err) {
        if (err instanceof AppError && err.code === 'NOT_FOUND') return undefined;
        return { snapshot: name, by: '(unreadable pin)', time: '' };
      }
    });
    const out = new Map<string, PinRecord>();
    for (const [i, name] of names.entries()) if (recs[i]) out.set(name, recs[i]);
    return out;
  }

  async pin(id: string, by: string, now: Date, reason?: string): Promise<PinRecord> {
    const rec: PinRecord = { snapshot: id, by, time: now.toISOString(), ...(reason ? { reason } : {}) };
    await this.backend.put({ kind: 'pins', name: id }, seal(this.master.encrypt, Buffer.from(JSON.stringify(rec))));
    return rec;
  }

  // ---- restore drills ----

  /**
   * A restore drill's record: drills/<drill id>, sealed JSON naming its
   * snapshot, so every instance with the key sees a snapshot's drill history (docs/FORMAT.md).
   */
  async recordDrill(drill: string, record: { snapshot: string }): Promise<void> {
    await this.backend.put({ kind: 'drills', name: drill }, seal(this.master.encrypt, Buffer.from(JSON.stringify(record))));
  }

  /** Drill records of the repository (of one snapshot when given); unreadable ones are left out. */
  async listDrills(snapshot?: string): Promise<unknown[]> {
    const names = (await this.listNames('drills')).filter((name) => /^[0-9a-f]{8,64}$/.test(name));
    const recs = await mapConcurrent(names, OBJECT_READS, async (name) => {
      try {
        const rec = JSON.parse((await this.loadObject('drills', name)).toString('utf8')) as { snapshot?: unknown } | null;
        return rec && typeof rec === 'object' ? rec : undefined;
      } catch {
        return undefined; // a record that cannot be read is no proof
      }
    });
    return recs.filter((rec) => rec !== undefined && (!snapshot || rec.snapshot === snapshot));
  }

  /** Removes a pin (admins only, enforced by the callers); true when there was one. */
  async unpin(id: string): Promise<boolean> {
    try {
      await this.backend.remove({ kind: 'pins', name: id });
      return true;
    } catch (err) {
      if (err instanceof AppError && err.code === 'NOT_FOUND') return false;
      throw err;
    }
  }

  /** Removes a snapshot's manifest; a pinned snapshot is refused (CONFLICT) on every instance alike. */
  async removeSnapshot(id: string): Promise<void> {
    const pin = (await this.listPins()).get(id);
    if (pin) throw new AppError('CONFLICT', `Snapshot ${id.slice(0, 8)} is pinned${pin.by ? ` (by ${pin.by}${pin.time ? ` on ${pin.time.slice(0, 10)}` : ''})` : ''}; an admin must unpin it first ("strongbox snapshot unpin ${id.slice(0, 8)}").`, { details: { pinned: true } });
    await this.backend.remove({ kind: 'snapshots', name: id });
  }

  async listNames(kind: FileKind): Promise<string[]> {
    const names: string[] = [];
    for await (const o of this.backend.list(kind)) names.push(o.name);
    // A whole listing is the truth: what the local cache holds beyond it is gone from the store.
    if (this.cache && (kind === 'index' || kind === 'snapshots')) this.cache.retain(kind, names);
    return names;
  }

  /** Objects of a kind by name, several requests in flight (`loadObject` each, in the names' order). */
  loadObjects(kind: 'index' | 'snapshots', names: readonly string[]): Promise<Buffer[]> {
    return mapConcurrent(names, OBJECT_READS, (name) => this.loadObject(kind, name));
  }

  // ---- index ----

  /** Loads every index file in force. With `onError`, a damaged index file is reported and skipped instead of thrown. */
  async loadIndex(onError?: (name: string, err: unknown) => void): Promise<void> {
    // Each file's plaintext (45 bytes a blob) until the superseded ones are known, then its
    // blobs straight into the index: no object per blob.
    const files = new Map<string, { b: Buffer; blobs: number }>();
    const superseded = new Set<string>();
    const names = (await this.listNames('index')).filter((name) => !this.indexFiles.has(name));
    // Several index files in flight (each is a request on a network store), scanned in the listing's order.
    const loaded = await mapConcurrent(names, OBJECT_READS, (name) =>
      this.loadObject('index', name).then(
        (b) => ({ b, err: undefined }),
        (err: unknown) => ({ b: undefined, err }),
      ),
    );
    for (const [i, name] of names.entries()) {
      const { b, err } = loaded[i]!;
      try {
        if (!b) throw err;
        const scan = scanIndexFile(b, name);
        for (const s of scan.supersedes) superseded.add(s);
        files.set(name, { b, blobs: scan.blobs });
      } catch (e) {
        if (!onError) throw e;
        onError(name, e);
      }
    }
    // The table of slots made once for every blob to come, not doubled and filled again as it grows.
    let total = this.index.size;
    for (const [name, f] of files) if (!superseded.has(name)) total += f.blobs;
    this.index.reserve(total);
    for (const [name, { b }] of files) {
      files.delete(name);
      if (superseded.has(name)) continue;
      const packs: string[] = [];
      let pack = 0;
      scanIndexFile(b, name, {
        pack: (id, blobs) => {
          packs.push(id);
          if (blobs > 0) pack = this.index.packNumber(id);
        },
        blob: (type, file, at, offset, length, rawLength) => void this.index.addAt(file, at, type, pack, offset, length, rawLength),
      });
      this.indexFiles.set(name, packs);
    }
  }

  private addIndexContent(name: string, packs: IndexedPack[]): void {
    this.indexFiles.set(name, packs.map((p) => p.id));
    for (const p of packs) for (const b of p.blobs) this.index.add(b.id, { type: b.type, pack: p.id, offset: b.offset, length: b.length, rawLength: b.rawLength });
  }

  /** Writes an index file (durably) and adds it to the in-memory index. */
  async saveIndex(content: IndexFileContent): Promise<string> {
    const name = await this.saveObject('index', encodeIndexFile(content));
    this.addIndexContent(name, content.packs);
    return name;
  }

  /** Writes an index file without touching the in-memory index (prune, which reloads afterwards). */
  async saveObjectIndex(content: IndexFileContent): Promise<string> {
    return this.saveObject('index', encodeIndexFile(content));
  }

  /** Reads every index file in force, with full contents (for prune and check). */
  async readIndexFiles(): Promise<Map<string, IndexFileContent>> {
    const out = new Map<string, IndexFileContent>();
    for (const name of this.indexFiles.keys()) out.set(name, decodeIndexFile(await this.loadObject('index', name), name));
    return out;
  }

  // ---- blobs ----

  locate(id: Uint8Array): BlobLocation | undefined {
    return this.index.get(id);
  }

  async readSealedBlob(id: Uint8Array): Promise<{ sealed: Buffer; loc: BlobLocation }> {
    const loc = this.index.get(id);
    if (!loc) throw new AppError('CORRUPT', `blob ${Buffer.from(id).toString('hex')} is referenced but not in the index. Run "strongbox repo check".`);
    const hex = loc.type === 'tree' && this.cache ? Buffer.from(id).toString('hex') : undefined;
    const cached = hex ? this.cache!.get('trees', hex) : undefined;
    if (cached && cached.length === loc.length) return { sealed: cached, loc };
    const sealed = await this.backend.get({ kind: 'data', name: loc.pack }, { offset: loc.offset, length: loc.length });
    if (hex) this.cache!.put('trees', hex, sealed);
    return { sealed, loc };
  }

  /** Loads and verifies a blob on the calling thread (used for trees). */
  async loadBlob(id: Uint8Array): Promise<Buffer> {
    const { sealed, loc } = await this.readSealedBlob(id);
    const what = `${loc.type} blob ${Buffer.from(id).toString('hex').slice(0, 16)} in pack ${loc.pack.slice(0, 16)}`;
    try {
      return this.codec.decode(sealed, id, what);
    } catch (err) {
      if (!this.cache || loc.type !== 'tree') throw err;
      // A damaged cache entry: forget it and read the store.
      this.cache.drop('trees', Buffer.from(id).toString('hex'));
      const fresh = await this.backend.get({ kind: 'data', name: loc.pack }, { offset: loc.offset, length: loc.length });
      return this.codec.decode(fresh, id, what);
    }
  }

  // ---- keys ----

  async listKeys(): Promise<KeyListing[]> {
    const out: KeyListing[] = [];
    for (const name of await this.listNames('keys')) {
      const f: KeyFile = decodeKeyFile(await this.backend.get({ kind: 'keys', name }));
      out.push({ id: name, current: name === this.keyId, created: f.created, host: f.host, username: f.username });
    }
    return out.sort((a, b) => a.created.localeCompare(b.created));
  }

  async addKey(password: string, scrypt?: { N: number; r: number; p: number }): Promise<string> {
    checkPassword(password);
    const data = encodeKeyFile(await wrapMasterKey(this.master, password, scrypt));
    const name = sha256(data).toString('hex');
    await this.backend.put({ kind: 'keys', name }, data);
    return name;
  }

  /** A new password: a key for it is added, then the key this repository was opened with is removed. */
  async changePassword(newPassword: string, scrypt?: { N: number; r: number; p: number }): Promise<{ added: string; removed: string }> {
    const added = await this.addKey(newPassword, scrypt);
    await this.backend.remove({ kind: 'keys', name: this.keyId });
    return { added, removed: this.keyId };
  }

  async removeKey(id: string): Promise<void> {
    const keys = await this.listKeys();
    if (id === this.keyId) throw new AppError('CONFLICT', 'Refusing to remove the key you opened the repository with; open it with another password first.');
    if (!keys.some((k) => k.id === id)) throw new AppError('NOT_FOUND', `No key ${id} in this repository.`);
    await this.backend.remove({ kind: 'keys', name: id });
  }

  // ---- locks ----

  /** Every lock in the repository but `except` (this run's own, which it need not read back). */
  async listLocks(except?: string): Promise<LockRecord[]> {
    const out: LockRecord[] = [];
    for (const name of await this.listNames('locks')) {
      if (name === except) continue;
      try {
        out.push({ id: name, ...(await this.loadJSON<LockInfo>('locks', name)) });
      } catch (err) {
        if (err instanceof AppError && err.code === 'NOT_FOUND') continue; // released meanwhile
        throw err;
      }
    }
    return out;
  }

  /**
   * Takes a shared or exclusive lock: writes ours, then looks for conflicting ones
   * (and backs off if any), so two racing exclusive lockers cannot both win. There is no look
   * before the write: it could not make the one after it unneeded, and on a store where each
   * request costs (S3) it was a listing more on every run to save a write and a delete on the
   * rare run that finds the repository locked.
   */
  async lock(exclusive: boolean, now = () => systemClock.now()): Promise<LockHandle> {
    let id = await this.saveJSON('locks', newLockInfo(exclusive, now()));
    const others = await this.listLocks(id);
    const after = conflicting({ exclusive }, others, now());
    if (after.length > 0) {
      await this.backend.remove({ kind: 'locks', name: id }, { missingOk: true }).catch(() => undefined);
      throw lockedError(after);
    }
    let released = false;
    let refreshedAt = now().getTime();
    let refreshError: unknown;
    const timer = setInterval(() => {
      void (async () => {
        const old = id;
        id = await this.saveJSON('locks', newLockInfo(exclusive, now()));
        refreshedAt = now().getTime();
        refreshError = undefined;
        await this.backend.remove({ kind: 'locks', name: old }, { missingOk: true }).catch(() => undefined);
      })().catch((err: unknown) => {
        refreshError = err;
      });
    }, REFRESH_EVERY_MS);
    timer.unref();
    const backend = this.backend;
    return {
      get id() {
        return id;
      },
      async assertHeld() {
        const age = now().getTime() - refreshedAt;
        // Two refreshes of margin before anyone may call it stale.
        if (age > STALE_AFTER_MS - 2 * REFRESH_EVERY_MS) {
          throw new AppError('REPO_LOCKED', `This run's lock on the repository was last refreshed ${Math.round(age / 60000)} minute(s) ago${refreshError ? ` (${(refreshError as Error).message})` : ''}; another process may have taken it for stale, so nothing more is written. Run it again.`);
        }
        try {
          await backend.stat({ kind: 'locks', name: id });
        } catch (err) {
          if (err instanceof AppError && err.code === 'NOT_FOUND') throw new AppError('REPO_LOCKED', `This run's lock ${id.slice(0, 8)} was removed from the repository (by "repo unlock" or another process); nothing more is written. Run it again.`);
          throw err;
        }
      },
      release: async () => {
        if (released) return;
        released = true;
        clearInterval(timer);
        await this.backend.remove({ kind: 'locks', name: id }, { missingOk: true });
      },
    };
  }

  async removeLock(id: string): Promise<void> {
    await this.backend.remove({ kind: 'locks', name: id });
  }
}

function checkPassword(password: string): void {
  if (password.length === 0) throw new AppError('INVALID_ARGUMENT', 'The password is empty; choose a non-empty password.');
}
