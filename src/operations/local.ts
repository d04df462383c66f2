import { AppError, systemClock, type Clock } from '../kernel/index.js';
import type { Instance } from '../app/index.js';
import { addApplication, listApplications, removeApplication, showApplication, validateSpec } from './applications.js';
import { CommandRepositories, targetOf, type Caller, type Env, type Where } from './context.js';
import { addDestinationAs, listDestinations, removeDestination, setDefaultDestination, showDestination, validateNamedDestination } from './destinations.js';
import { backupPaths, diff, listFiles, readFileOf } from './files.js';
import type { Operations, Ui } from './front.js';
import { perform } from './operation.js';
import { listDrills, runDrill } from './drills.js';
import { verificationStatus } from './verification.js';
import { addKey, changePassword, checkRepository, listKeys, pruneRepository, rebuildRepositoryIndex, removeKey, repositoryStats, unlockRepository } from './repository.js';
import { forgetSnapshots } from './retention.js';
import { installLicense, listLicenses, removeLicense } from './licenses.js';
import { addUser, auditLog, createToken, listTokens, listUsers, removeUser, revokeToken, updateUser } from './accounts.js';
import { createSnapshot } from './snapshot-create.js';
import { deleteSnapshot, listSnapshotsOf, pinSnapshot, showSnapshot, snapshotLog, unpinSnapshot } from './snapshot-admin.js';
import { restoreFiles, restoreSnapshot, snapshotKind } from './snapshot-restore.js';
import { copySnapshotsOp, downloadArchive, uploadArchiveOp } from './snapshot-transfer.js';

export interface LocalOptions {
  /** This machine's instance: created when `create`, otherwise only if one exists and is wanted (undefined for a bare --repo). */
  instance(create: boolean): Promise<Instance | undefined>;
  /** The repository a command works on (--repo, --destination or the default destination). */
  where(inst: Instance | undefined): Promise<Where>;
  /** Another destination by name, with its secrets (copy and upload targets). */
  destination?(inst: Instance, name: string): Promise<Where>;
  caller: Caller;
  clock?: Clock;
}

/**
 * The operations in this process, on this machine's instance and
 * repositories: each repository is opened once for the command, and the
 * instance is opened only when the command needs it.
 */
export class LocalOperations implements Operations {
  readonly place = 'this machine';
  readonly remote = false;
  private readonly repos = new CommandRepositories();
  private inst: Instance | undefined;

  constructor(private readonly o: LocalOptions) {}

  private async env(needInstance = false): Promise<Env> {
    if (!this.inst) this.inst = await this.o.instance(needInstance);
    return { inst: this.inst, clock: this.o.clock ?? systemClock, repos: this.repos };
  }

  private async at(needInstance = false): Promise<{ env: Env; where: Where }> {
    const env = await this.env(needInstance);
    return { env, where: await this.o.where(env.inst) };
  }

  /** An operation on the command's repository, in its arguments' order. */
  private on<A extends unknown[], R>(fn: (env: Env, where: Where, ...args: A) => Promise<R>): (...args: A) => Promise<R> {
    return async (...args) => {
      const { env, where } = await this.at();
      return fn(env, where, ...args);
    };
  }

  readonly snapshotKind = this.on(snapshotKind);
  readonly listSnapshots = this.on(listSnapshotsOf);
  readonly showSnapshot = this.on(showSnapshot);
  readonly snapshotLog = this.on(snapshotLog);
  readonly listFiles = this.on(listFiles);
  async dumpFile(id: string, path: string, out: NodeJS.WritableStream): Promise<void> {
    const { env, where } = await this.at();
    await readFileOf(env, where, id, path, this.o.caller, async (f) => {
      for await (const chunk of f.data) if (!out.write(chunk)) await new Promise((r) => out.once('drain', r));
    });
  }
  readonly diff = this.on(diff);
  readonly repositoryStats = this.on(repositoryStats);
  readonly unlockRepository = this.on(unlockRepository);
  readonly listKeys = this.on(listKeys);
  readonly addKey = this.on(addKey);
  readonly removeKey = this.on(removeKey);
  readonly changePassword = this.on(changePassword);

  private ctx(ui: Ui) {
    return { signal: ui.signal, sink: ui.sink };
  }

  submitSnapshot(): Promise<never> {
    return Promise.reject(new AppError('USAGE', '--detach is for --server: a snapshot on this machine runs in the foreground.'));
  }

  async createSnapshot(req: Parameters<Operations['createSnapshot']>[0], ui: Ui) {
    const { env, where } = await this.at(true);
    return perform(createSnapshot, env, { ...req, where }, this.o.caller, this.ctx(ui));
  }

  async runDrill(req: Parameters<Operations['runDrill']>[0], ui: Ui) {
    const { env, where } = await this.at(true);
    return perform(runDrill, env, { ...req, where }, this.o.caller, this.ctx(ui));
  }

  readonly listDrills = this.on(listDrills);

  async verificationStatus() {
    return verificationStatus(await this.env(true));
  }

  async restoreSnapshot(id: string, req: Parameters<Operations['restoreSnapshot']>[1], ui: Ui) {
    const { env, where } = await this.at(true);
    return perform(restoreSnapshot, env, { ...req, snapshot: id, where }, this.o.caller, this.ctx(ui));
  }

  async deleteSnapshot(id: string) {
    const { env, where } = await this.at();
    return deleteSnapshot(env, where, id, this.o.caller);
  }

  async pinSnapshot(id: string, reason: string | undefined) {
    const { env, where } = await this.at();
    const r = await pinSnapshot(env, where, id, this.o.caller, reason);
    return { id: r.id, pinned: true as const };
  }

  async unpinSnapshot(id: string, quiet: boolean) {
    const { env, where } = await this.at();
    return unpinSnapshot(env, where, id, this.o.caller, { quiet });
  }

  async downloadSnapshot(id: string, file: string, password: string | undefined, ui: Ui) {
    const { env, where } = await this.at();
    const r = await perform(downloadArchive, env, { snapshot: id, where, password: password ?? (await targetOf(env, where)).password, output: { file } }, this.o.caller, this.ctx(ui));
    return { source: r.source, file: r.file, bytes: r.bytes };
  }

  async uploadArchive(file: string, password: string | undefined, to: string | undefined, ui: Ui) {
    const env = await this.env(to !== undefined);
    const where = to !== undefined ? await this.named(env, to) : await this.o.where(env.inst);
    const r = await perform(uploadArchiveOp, env, { file, password: password ?? (await targetOf(env, where)).password, where }, this.o.caller, this.ctx(ui));
    return { copied: r.copied, skipped: r.skipped, inspected: { snapshots: r.inspected.snapshots, files: r.inspected.files, dirs: r.inspected.dirs, expandedBytes: r.inspected.expandedBytes }, storedBytesSent: r.storedBytesSent };
  }

  async copySnapshots(ids: string[] | 'all', to: Parameters<Operations['copySnapshots']>[1], ui: Ui) {
    const env = await this.env('destination' in to);
    const from = await this.o.where(env.inst);
    const target: Where = 'destination' in to ? await this.named(env, to.destination) : { target: { name: null, location: to.location, password: to.password } };
    return perform(copySnapshotsOp, env, { snapshots: ids, from, to: target }, this.o.caller, this.ctx(ui));
  }

  async forgetSnapshots(policy: Parameters<Operations['forgetSnapshots']>[0], dryRun: boolean) {
    const { env, where } = await this.at();
    return forgetSnapshots(env, { where, policy, dryRun }, this.o.caller);
  }

  async backupPaths(req: Parameters<Operations['backupPaths']>[0], ui: Ui) {
    const { env, where } = await this.at();
    return backupPaths(env, { ...req, where }, this.ctx(ui));
  }

  async restoreFiles(id: string, req: Parameters<Operations['restoreFiles']>[1], ui: Ui) {
    const { env, where } = await this.at();
    return restoreFiles(env, { ...req, snapshot: id, where }, this.ctx(ui));
  }

  async listApplications() {
    return listApplications(await this.env(true));
  }

  async showApplication(name: string) {
    return showApplication(await this.env(true), name);
  }

  validateSpec(text: string) {
    return validateSpec(text);
  }

  async addApplication(text: string, replace: boolean, source?: string) {
    return addApplication(await this.env(true), text, { replace, source }, this.o.caller);
  }

  async removeApplication(name: string, withSchedules: boolean) {
    return removeApplication(await this.env(true), name, { withSchedules }, this.o.caller);
  }

  async listDestinations() {
    return listDestinations(await this.env(true));
  }

  async showDestination(name: string) {
    return showDestination(await this.env(true), name);
  }

  async addDestination(req: Parameters<Operations['addDestination']>[0]) {
    const p = req.password;
    return addDestinationAs(await this.env(true), { ...req, password: 'plain' in p ? { sealed: p.plain } : p }, this.o.caller);
  }

  async validateDestination(name: string) {
    return validateNamedDestination(await this.env(true), name);
  }

  async setDefaultDestination(name: string) {
    return setDefaultDestination(await this.env(true), name, this.o.caller);
  }

  async removeDestination(name: string) {
    return removeDestination(await this.env(true), name, this.o.caller);
  }

  async checkRepository(o: { readData: boolean | number }, ui: Ui) {
    const { env, where } = await this.at();
    return checkRepository(env, where, o, this.ctx(ui));
  }

  async pruneRepository(o: { dryRun: boolean; maxUnused: number }, ui: Ui) {
    const { env, where } = await this.at();
    return pruneRepository(env, where, o, this.ctx(ui));
  }

  async rebuildIndex(ui: Ui) {
    const { env, where } = await this.at();
    return rebuildRepositoryIndex(env, where, this.ctx(ui));
  }

  async listUsers() {
    return listUsers(await this.env(true));
  }

  async addUser(r: Parameters<Operations['addUser']>[0]) {
    return addUser(await this.env(true), r, this.o.caller);
  }

  async updateUser(name: string, r: Parameters<Operations['updateUser']>[1]) {
    return updateUser(await this.env(true), name, r, this.o.caller);
  }

  async removeUser(name: string) {
    return removeUser(await this.env(true), name, this.o.caller);
  }

  async listTokens() {
    return listTokens(await this.env(true), this.o.caller, 'admin');
  }

  async createToken(r: Parameters<Operations['createToken']>[0]) {
    return createToken(await this.env(true), r, this.o.caller);
  }

  async revokeToken(idOrName: string) {
    return revokeToken(await this.env(true), idOrName, this.o.caller, 'admin');
  }

  async auditLog(q: Parameters<Operations['auditLog']>[0]) {
    return auditLog(await this.env(true), q);
  }

  async listLicenses() {
    return listLicenses(await this.env(true));
  }

  async installLicense(text: string) {
    return installLicense(await this.env(true), text, this.o.caller);
  }

  async removeLicense(id: string) {
    return removeLicense(await this.env(true), id, this.o.caller);
  }

  private async named(env: Env, name: string): Promise<Where> {
    if (this.o.destination && env.inst) return this.o.destination(env.inst, name);
    return { destination: name };
  }

  async close(): Promise<void> {
    await this.repos.close();
    await this.inst?.close();
  }
}
