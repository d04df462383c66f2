import type { Readable } from 'node:stream';
import type { z } from 'zod';

/** What a source may use while it works: cancellation, the job's log, scratch space. */
export interface SourceEnv {
  signal?: AbortSignal;
  log(line: string): void;
  /** A private directory for the rare kind that needs scratch space (sqlite). */
  spoolDir: string;
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
 * A component kind: its options' schema, and how it backs up and restores.
 * `tree` kinds are directories the engine walks itself; `stream` kinds produce
 * one artifact (a dump) that is chunked straight into the repository.
 */
export interface ComponentKind<O = Record<string, unknown>> {
  kind: string;
  schema: z.ZodType<O>;
  shape: 'tree' | 'stream';
  /** The artifact's name inside the component's directory in a snapshot. */
  artifact?: string;
  /** Option fields that `--map COMPONENT.FIELD=VALUE` may replace on restore. */
  mappable: readonly string[];
  describe(o: O): string;
  backup?(o: O, env: SourceEnv): Promise<StreamBackup>;
  preflight(o: O, env: SourceEnv, info: ArtifactInfo, force: boolean): Promise<PreflightReport>;
  restore?(o: O, input: Readable, env: SourceEnv, info: ArtifactInfo, force: boolean): Promise<ArtifactInfo>;
}
