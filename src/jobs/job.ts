/**
 * Jobs as records with phases (Velero's habit): every backup, restore, copy,
 * verification and maintenance run is one, from queued to an outcome. The
 * record is what the API lists and the console shows; the runner moves it.
 */
export const JOB_KINDS = ['backup', 'restore', 'restore-dry-run', 'copy', 'download', 'upload', 'check', 'prune', 'drill'] as const;
export type JobKind = (typeof JOB_KINDS)[number];

export const JOB_PHASES = ['queued', 'running', 'completed', 'partially_failed', 'failed', 'canceled'] as const;
export type JobPhase = (typeof JOB_PHASES)[number];

export function isFinished(phase: JobPhase): boolean {
  return phase !== 'queued' && phase !== 'running';
}

export interface ComponentProgress {
  app: string;
  component: string;
  kind: string;
  state: 'pending' | 'running' | 'completed' | 'partially_failed' | 'failed' | 'skipped';
  bytes: number;
  items: number;
  /** Bytes per second while running (over the component's time so far). */
  rate: number;
  /** Seconds left, when the total is known. */
  etaSeconds?: number;
  totalBytes?: number;
  error?: string;
}

export interface JobProgress {
  /** What the job is doing now, in words (a component, "saving the snapshot", …). */
  current?: string;
  bytes: number;
  newBytes: number;
  items: number;
  totalBytes?: number;
  rate: number;
  etaSeconds?: number;
  components: ComponentProgress[];
}

export interface JobRecord {
  id: string;
  kind: JobKind;
  /** The application it is about (null: full snapshot, maintenance, …). */
  app: string | null;
  destination: string | null;
  phase: JobPhase;
  /** The request, as given (no secrets). */
  params: Record<string, unknown>;
  progress: JobProgress;
  /** The outcome: snapshot id, restore result, space reclaimed, … */
  result: Record<string, unknown> | null;
  warnings: string[];
  errors: string[];
  /** Who asked: a user name, "token:NAME" or "schedule:NAME". */
  requestedBy: string;
  scheduleId: string | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}

export interface JobLogLine {
  seq: number;
  time: string;
  line: string;
}

export interface JobFilter {
  app?: string;
  kind?: JobKind;
  phase?: JobPhase;
  limit?: number;
}

/** What the runner needs of a store (the catalog implements it). */
export interface JobStore {
  insert(job: JobRecord): Promise<void>;
  update(id: string, patch: Partial<Omit<JobRecord, 'id' | 'kind' | 'createdAt'>>): Promise<void>;
  get(id: string): Promise<JobRecord | undefined>;
  list(filter?: JobFilter): Promise<JobRecord[]>;
  appendLog(id: string, lines: JobLogLine[]): Promise<void>;
  log(id: string, afterSeq?: number): Promise<JobLogLine[]>;
  /** Jobs left queued or running by a process that is gone. */
  unfinished(): Promise<JobRecord[]>;
}

export function emptyProgress(): JobProgress {
  return { bytes: 0, newBytes: 0, items: 0, rate: 0, components: [] };
}
