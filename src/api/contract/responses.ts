/**
 * Response bodies of the API as types: the server must produce them (the
 * compiler checks it where they are built), and the CLI's client and the
 * console read them — so the three cannot drift apart. Where a response schema
 * exists (schemas.ts) the type is derived from it.
 */
import type { z } from 'zod';
import type { Job } from './schemas.js';

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
  /** The latest restore drill of the snapshot; null: never verified. */
  verified: { status: 'passed' | 'failed'; at: string; drill: string } | null;
}

/** A job record (GET /api/jobs, /api/jobs/:id, the SSE "job" event): the shape its response schema describes. */
export type JobView = z.output<typeof Job>;
export type JobProgressView = JobView['progress'];
