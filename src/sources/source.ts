import type { Readable } from 'node:stream';
import type { z } from 'zod';

/** What a source may use while it works: cancellation, the job's log, scratch space. */
export interface SourceEnv {
  signal?: AbortSignal;
  log(line: string): void;
  /** A private directory for the rare kind that needs scratch space (sqlite). */
  spoolDir: string;
  /** Objects and bytes done so far, for kinds that report their own progress (kubernetes). */
  progress?(done: { items: number; bytes: number }): void;
}

/** Facts about an artifact recorded in the snapshot (tool versions, format); never secrets. */
export type ArtifactInfo = Record<string, string | number | boolean>;

export interface StreamBackup {
  stream: Readable;
  /** Resolves when the producer has finished well; rejects with the reason when it failed. */
  done: Promise<ArtifactInfo>;
}

export interface PreflightReport {
  /** The target in words (a URL without credentials, a path). */
  target: string;
  /** What is in the way, or cannot work: each item says what and how to fix it. */
  problems: string[];
  /** What the restore will do (create the database, replace files with --force, …). */
  plan: string[];
}

/**
 * What an `objects` kind captured: small files it made (manifests) and
 * directories on this machine that the engine walks like a files component,
 * each at a relative path in the component's tree. Warnings say what could not
 * be captured: the component is then partially failed, never silently incomplete.
 */
export interface Capture {
  files: { path: string; data: Buffer }[];
  dirs: { path: string; dir: string }[];
  warnings: string[];
  info: ArtifactInfo;
}

/** An `objects` kind's restore input: the component's small files, and a way to put a captured directory back. */
export interface ObjectsInput {
  files: ReadonlyMap<string, Buffer>;
  /** Restores the directory captured at `from` into `to` (created; must be empty unless forced). */
  restoreDir(from: string, to: string): Promise<{ bytes: number; files: number }>;
}

export interface ObjectsRestoreReport {
  info: ArtifactInfo;
  /** Objects created or updated. */
  items: number;
  bytes: number;
  /** What did not come back, each naming the object and the reason. */
  failures: string[];
  /** What was done beyond creating (updated objects, cloned volumes). */
  notes: string[];
}

/** One check of a restore drill: what was expected, what was found. */
export interface DrillCheck {
  name: string;
  ok: boolean;
  expected?: string;
  actual?: string;
}

/** A throwaway target for a restore drill (docs/DRILLS.md): where the restore goes, how it is checked, and how it goes away. */
export interface DrillTarget {
  /** Options for the kind that point a restore at the throwaway target. */
  options: Record<string, unknown>;
  /** Checks what was restored against what the snapshot recorded. */
  verify(): Promise<DrillCheck[]>;
  /** Runs an application check's query on the restored database: its rows, each a list of values as text. */
  query?(sql: string): Promise<string[][]>;
  /**
   * Restore the component's tree as plain files into this directory instead of
   * through the kind's restore (a kind whose restore would reach outside this
   * machine, as Kubernetes objects would a cluster); `verify` then reads them.
   */
  asFiles?: string;
  /** Where the restored data is, for an application's check command (STRONGBOX_DRILL_URL, PGHOST, STRONGBOX_DRILL_PATH …); no secrets: throwaway servers need none. */
  connection?: Record<string, string>;
  /** Stops what was started and removes its files; safe to call more than once. */
  cleanup(): Promise<void>;
}

/**
 * A component kind: its options' schema, and how it backs up and restores.
 * `tree` kinds are directories the engine walks itself; `stream` kinds produce
 * one artifact (a dump) that is chunked straight into the repository;
 * `objects` kinds capture many small records and some directories (the
 * resources and volumes of a Kubernetes application) and restore them in
 * their own order.
 */
export interface ComponentKind<O = Record<string, unknown>> {
  kind: string;
  schema: z.ZodType<O>;
  shape: 'tree' | 'stream' | 'objects';
  /** The artifact's name inside the component's directory in a snapshot. */
  artifact?: string;
  /** Option fields that `--map COMPONENT.FIELD=VALUE` may replace on restore. */
  mappable: readonly string[];
  describe(o: O): string;
  /** A `--map` whose field is not simply replaced (kubernetes: namespace=OLD:NEW adds to a map). */
  map?(o: O, field: string, value: string): O;
  /** A mapped field recorded in the spec as another (kubernetes: namespace → the namespaces list), when the restore repoints the application. */
  recordAs?: Readonly<Record<string, string>>;
  /** Why a change of options on restore would send this instance's credentials elsewhere (admins only). */
  redirects?(before: O, after: O): string | undefined;
  capture?(o: O, env: SourceEnv): Promise<Capture>;
  /**
   * A restore drill's throwaway target in `scratch` (a fresh directory; every
   * process started writes its pid to scratch/pids so a later start can find
   * leftovers). `info` is what the backup recorded (tool versions, row counts);
   * `installed` the component's options in the spec installed on this instance,
   * if it is (its commands may run: the snapshot's own spec never runs anything).
   */
  drillTarget?(info: ArtifactInfo, scratch: string, env: SourceEnv, installed?: O): Promise<DrillTarget>;
  restoreObjects?(o: O, input: ObjectsInput, env: SourceEnv, info: ArtifactInfo, force: boolean): Promise<ObjectsRestoreReport>;
  backup?(o: O, env: SourceEnv): Promise<StreamBackup>;
  /** `files`: an `objects` kind's small files from the snapshot (its manifests), to check against the target. */
  preflight(o: O, env: SourceEnv, info: ArtifactInfo, force: boolean, files?: ReadonlyMap<string, Buffer>): Promise<PreflightReport>;
  restore?(o: O, input: Readable, env: SourceEnv, info: ArtifactInfo, force: boolean): Promise<ArtifactInfo>;
}
