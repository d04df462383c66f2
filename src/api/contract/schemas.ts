/**
 * Response bodies of every JSON route, as zod schemas: they describe the
 * responses in /api/openapi.json, and a server started with
 * STRONGBOX_CHECK_RESPONSES=1 (every end-to-end test does) checks each
 * response against its route's schema, so the reference cannot drift from
 * what the server sends. Objects are open: a field the schema does not name is
 * accepted (a later version may add fields).
 */
import { z } from 'zod';

const o = z.object;
const str = z.string();
const nul = <T extends z.ZodType>(t: T) => t.nullable();
const role = z.enum(['admin', 'operator', 'viewer']);
const ok = o({ ok: z.literal(true) });
/** Any JSON object (a request's params, a result, a spec). */
const obj = z.record(z.string(), z.unknown());

export const Job = o({
  id: str,
  kind: str,
  app: nul(str),
  destination: nul(str),
  phase: z.enum(['queued', 'running', 'completed', 'partially_failed', 'failed', 'canceled']),
  params: obj,
  progress: o({
    current: str.optional(),
    bytes: z.number(),
    newBytes: z.number(),
    items: z.number(),
    totalBytes: z.number().optional(),
    rate: z.number(),
    etaSeconds: z.number().optional(),
    components: z.array(o({ app: str, component: str, kind: str, state: z.enum(['pending', 'running', 'completed', 'partially_failed', 'failed', 'skipped']), bytes: z.number(), items: z.number(), rate: z.number(), etaSeconds: z.number().optional(), totalBytes: z.number().optional(), error: str.optional() })),
  }),
  result: nul(obj),
  warnings: z.array(str),
  errors: z.array(str),
  requestedBy: str,
  scheduleId: nul(str),
  createdAt: str,
  startedAt: nul(str),
  finishedAt: nul(str),
});

export const SnapshotRow = o({
  id: str,
  time: str,
  type: z.enum(['files', 'application', 'full']),
  status: z.enum(['completed', 'partially_failed', 'failed']),
  host: str,
  tags: z.array(str),
  note: nul(str),
  applications: z.array(o({ name: str, version: str, status: str })),
  paths: z.array(str),
  bytes: z.number(),
  newBytes: z.number(),
  storedBytes: z.number(),
  durationMs: z.number(),
  warningCount: z.number(),
  pinned: z.boolean(),
  destination: nul(str),
  /** The latest restore drill of the snapshot (docs/DRILLS.md); null: never verified. */
  verified: nul(o({ status: z.enum(['passed', 'failed']), at: str, drill: str })),
});
/** A manifest as stored in the repository (docs/FORMAT.md). */
export const Manifest = o({ time: str, host: str, username: str, paths: z.array(str), tags: z.array(str), tree: str, summary: o({ bytes: z.number() }), warningCount: z.number() });
export const SnapshotList = z.union([z.array(SnapshotRow), z.array(Manifest.extend({ id: str, pinned: z.boolean(), verified: SnapshotRow.shape.verified }))]);
export const SnapshotDetail = SnapshotRow.extend({ manifest: Manifest });
export const Lines = o({ id: str, lines: z.array(str) });
const FileEntry = o({ path: str, type: str, size: z.number().optional(), mode: z.number(), mtime: str, user: str.optional(), group: str.optional(), target: str.optional() });
export const Files = o({ id: str, path: str, entries: z.array(FileEntry) });
export const Diff = o({ lines: z.array(o({ change: z.enum(['+', '-', 'M', 'T', 'U']), path: str })), added: z.number(), removed: z.number(), modified: z.number() });

export const Destination = o({ name: str, kind: str, location: str, password: str, isDefault: z.boolean(), createdAt: str, credentials: str });
export const Validation = o({ repositoryId: str, snapshots: z.number(), steps: z.array(str) });
export const DestinationAdded = Destination.extend({ validation: nul(Validation) });

const License = z.union([o({ required: z.literal(false) }), o({ required: z.literal(true), ok: z.boolean() })]);
export const Application = o({ name: str, version: str, components: z.array(o({ name: str, kind: str, source: str })), updatedAt: str, hooks: z.record(str, z.array(str)), vendor: nul(str), description: nul(str), license: License });
export const ApplicationDetail = o({ name: str, version: str, specText: str, spec: obj, license: License, createdAt: str, updatedAt: str });
export const SpecValidation = z.union([o({ ok: z.literal(true), name: str, version: str }), o({ ok: z.literal(false), problems: z.array(o({ message: str })) })]);
export const ApplicationAdded = o({ name: str, version: str, result: z.enum(['added', 'replaced']), components: z.array(o({ name: str, kind: str })), translated: o({ from: str, spec: str, untranslated: z.array(str) }).optional() });
export const ApplicationRemoved = o({ removed: str, schedulesRemoved: z.array(str) });

export const User = o({ name: str, role, mustChangePassword: z.boolean(), createdAt: str });
export const Token = o({ id: str, name: str, user: str, role, createdAt: str, expiresAt: nul(str), lastUsedAt: nul(str), revokedAt: nul(str) });
export const TokenCreated = Token.extend({ token: str });
export const Me = o({ user: str, role, mustChangePassword: z.boolean() });
export const Login = o({ user: str, role, csrf: str, expiresAt: str, mustChangePassword: z.boolean() });
export const Ok = ok;

export const Schedule = o({ id: str, name: str, kind: z.enum(['backup', 'maintenance', 'drill']), app: nul(str), destination: nul(str), cron: str, timezone: str, paused: z.boolean(), retention: obj, tags: z.array(str), objective: str.optional(), description: str, nextRuns: z.array(str) });
export const CronPreview = o({ cron: str, timezone: str, description: str, nextRuns: z.array(str) });
export const RetentionPreview = o({ schedule: str, rules: obj, keepsEverything: z.boolean(), decisions: z.array(o({ id: str, keep: z.boolean(), reasons: z.array(str) })) });

export const InstalledLicense = o({ id: str, licensee: str, product: str, entitlements: z.array(str), expiresAt: str, keyFingerprint: str });
export const Audit = z.array(o({ id: z.number(), time: str, actor: str, action: str, target: nul(str), ip: nul(str), outcome: str, details: nul(obj) }));
export const Health = o({ status: str });
export const JobLog = o({ id: str, lines: z.array(o({ seq: z.number(), time: str, line: str })) });

/** A small acknowledgement naming what changed: { removed }, { deleted }, { default }, { id, pinned }. */
export const Ack = (field: string) => o({ [field]: z.union([str, z.boolean()]) });
export const Pin = o({ id: str, pinned: z.boolean() });

const DrillCheck = o({ name: str, ok: z.boolean(), expected: str.optional(), actual: str.optional() });
export const Drill = o({
  id: str,
  snapshot: str,
  snapshotTime: str,
  apps: z.array(str),
  status: z.enum(['passed', 'failed']),
  startedAt: str,
  finishedAt: str,
  recoveryMs: z.number(),
  recoveryPointSeconds: z.number(),
  strongboxVersion: str,
  components: z.array(o({ app: str, component: str, kind: str, status: z.enum(['passed', 'failed', 'skipped']), reason: str.optional(), restoreMs: z.number(), verifyMs: z.number(), bytes: z.number(), checks: z.array(DrillCheck) })),
});
export const DrillList = z.array(Drill);
export const VerificationList = z.array(
  o({
    app: str,
    verified: nul(o({ snapshot: str, snapshotTime: str, drill: str, at: str, recoveryMs: z.number(), repository: str })),
    ageSeconds: nul(z.number()),
    objectiveSeconds: nul(z.number()),
    schedule: nul(str),
    overdue: z.boolean(),
    lastDrill: nul(o({ id: str, status: z.enum(['passed', 'failed']), at: str, snapshot: str })),
  }),
);
