/**
 * Response bodies of the API, as plain types with no imports: the server must
 * produce them (the compiler checks it where they are built), and the CLI's
 * client and the console read them — so the three cannot drift apart.
 */

export type RoleName = 'admin' | 'operator' | 'viewer';

/** GET /api/auth/me */
export interface MeView {
  user: string;
  role: RoleName;
  via?: 'session' | 'token';
  csrf?: string;
  token?: string;
  mustChangePassword: boolean;
}

/** A snapshot as listings show it (GET /api/snapshots, the CLI's remote list, the console). */
export interface SnapshotView {
  id: string;
  time: string;
  type: 'files' | 'application' | 'full';
  status: 'completed' | 'partially_failed' | 'failed';
  host: string;
  tags: string[];
  note: string | null;
  applications: { name: string; version: string; status: string }[];
  paths: string[];
  bytes: number;
  newBytes: number;
  storedBytes: number;
  durationMs: number;
  warningCount: number;
  pinned: boolean;
  destination: string | null;
}

/** Live progress of a job, per component. */
export interface JobProgressView {
  current?: string;
  bytes: number;
  newBytes: number;
  items: number;
  rate: number;
  etaSeconds?: number;
  components: { app: string; component: string; kind: string; state: string; bytes: number; items: number; rate: number; error?: string }[];
}

/** A job record (GET /api/jobs, /api/jobs/:id, the SSE "job" event). */
export interface JobView {
  id: string;
  kind: string;
  app: string | null;
  destination: string | null;
  phase: string;
  params: Record<string, unknown>;
  progress: JobProgressView;
  result: Record<string, unknown> | null;
  warnings: string[];
  errors: string[];
  requestedBy: string;
  scheduleId: string | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}
