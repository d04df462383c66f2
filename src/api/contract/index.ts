/**
 * The API's contract: request schemas (zod), roles and the error envelope,
 * shared by the server, the CLI's remote mode and the console. Imports only
 * zod and the kernel's error codes.
 */
import { z } from 'zod';
import type { ErrorCode } from '../../kernel/index.js';

export const ROLE_ORDER = ['viewer', 'operator', 'admin'] as const;
export type RoleName = (typeof ROLE_ORDER)[number];
/** Who may call a route: anyone, or a role and those above it. */
export type Access = 'public' | 'authenticated' | RoleName;

export function roleAllows(role: RoleName, need: RoleName): boolean {
  return ROLE_ORDER.indexOf(role) >= ROLE_ORDER.indexOf(need);
}

export interface ErrorBody {
  error: { code: ErrorCode; message: string; details?: Record<string, unknown> };
}

const name = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, 'lower-case letters, digits, ".", "_", "-"');
const count = z.number().int().min(0).max(10000);

export const LoginBody = z.strictObject({ user: z.string().min(1).max(64), password: z.string().min(1).max(1024) });
export const PasswordBody = z.strictObject({ current: z.string().min(1).max(1024), new: z.string().min(10, 'at least 10 characters').max(1024) });

export const SnapshotCreateBody = z
  .strictObject({
    apps: z.array(name).min(1).optional().describe('Applications to snapshot (a partial snapshot).'),
    full: z.boolean().optional().describe('Every application and the instance state (disaster recovery).'),
    tags: z.array(z.string().min(1).max(100)).max(20).optional(),
    note: z.string().max(1000).optional(),
    destination: name.optional().describe('Default: the default destination.'),
  })
  .refine((b) => !!b.full !== !!b.apps?.length, { message: 'give either apps or full: true' });

export const Mapping = z.strictObject({ component: z.string().min(1), field: z.string().min(1), value: z.string() });
export const RestoreBody = z.strictObject({
  apps: z.array(name).optional(),
  components: z.array(z.string().min(1)).optional().describe('NAME or APP/NAME.'),
  maps: z.array(Mapping).optional().describe('Targets other than the spec\'s: component.field = value (e.g. db.url). Sending a stored password to another server, or taking it from elsewhere, is admin-only.'),
  specs: z.array(z.string().min(1).max(256 * 1024)).max(20).optional().describe('Admin only: application specs (YAML) to restore with instead of the installed ones. A snapshot\'s own spec is never run.'),
  dryRun: z.boolean().optional().describe('Plan and preflight only; nothing is changed.'),
  force: z.boolean().optional().describe('Restore into targets that are merely not empty.'),
  spaceCheck: z.boolean().optional().describe('false: do not refuse a files component whose data is larger than its target\'s free space (sparse files may need less).'),
  repoint: z.boolean().optional().describe('Admin only: the applications use the mapped targets from now on (their specs are changed). A restore of the whole of a full snapshot always does.'),
  destination: name.optional(),
});

export const PinBody = z.strictObject({ reason: z.string().max(500).optional().describe('Why the snapshot is kept (shown with the pin).') }).optional();

export const CopyBody = z.strictObject({ to: name.describe('The destination to copy to.'), destination: name.optional().describe('Where the snapshot is (default: the default destination).') });

export const DownloadBody = z.strictObject({ password: z.string().min(8, 'at least 8 characters').max(1024).describe('Encrypts the archive; needed to upload it elsewhere.'), destination: name.optional() });

export const RetentionBody = z.strictObject({
  ttl: z.string().regex(/^(\d+\s*(min|mo|y|m|w|d|h|s)\s*)+$/, 'a duration such as 30d, 12h, 2w, 6m, 1y').optional(),
  keepLast: count.optional(),
  keepHourly: count.optional(),
  keepDaily: count.optional(),
  keepWeekly: count.optional(),
  keepMonthly: count.optional(),
  keepYearly: count.optional(),
});

export const ScheduleBody = z.strictObject({
  name,
  kind: z.enum(['backup', 'maintenance', 'drill']).default('backup'),
  app: name.nullable().optional().describe('An application; null or absent with kind backup: full snapshots.'),
  destination: name.nullable().optional(),
  cron: z.string().min(1).max(120).describe('hourly, daily, weekly, or a cron expression (5 fields, or 6 with seconds).'),
  timezone: z.string().min(1).max(64).default('UTC'),
  paused: z.boolean().optional(),
  retention: RetentionBody.default({}),
  tags: z.array(z.string().min(1).max(100)).max(20).default([]),
  maintenance: z.strictObject({ readDataPercent: z.number().min(0).max(100), prune: z.boolean() }).optional(),
  objective: z.string().min(1).max(40).optional().describe('Drill schedules: how old the newest verified data may get before it is overdue (8d, 36h); default twice the interval.'),
});

export const SchedulePatch = z.strictObject({
  cron: z.string().min(1).max(120).optional(),
  timezone: z.string().min(1).max(64).optional(),
  paused: z.boolean().optional(),
  retention: RetentionBody.optional(),
  tags: z.array(z.string().min(1).max(100)).max(20).optional(),
  destination: name.nullable().optional(),
  maintenance: z.strictObject({ readDataPercent: z.number().min(0).max(100), prune: z.boolean() }).optional(),
  objective: z.string().min(1).max(40).optional().describe('Drill schedules: how old the newest verified data may get before it is overdue (8d, 36h); default twice the interval.'),
});

export const CronPreviewBody = z.strictObject({ cron: z.string().min(1).max(120), timezone: z.string().min(1).max(64).default('UTC'), count: z.number().int().min(1).max(50).default(5) });

export const UserBody = z.strictObject({ name: z.string().min(1).max(64), role: z.enum(ROLE_ORDER), password: z.string().min(10, 'at least 10 characters').max(1024), mustChangePassword: z.boolean().default(true) });
export const UserPatch = z.strictObject({
  role: z.enum(ROLE_ORDER).optional(),
  password: z.string().min(10, 'at least 10 characters').max(1024).optional(),
  mustChangePassword: z.boolean().optional(),
  keepTokens: z.boolean().optional().describe('With password: keep the user\'s API tokens (by default a new password revokes them).'),
});
export const TokenBody = z.strictObject({ name: z.string().min(1).max(64), role: z.enum(ROLE_ORDER).optional().describe('Default: the user\'s role; never more.'), expiresInDays: z.number().int().min(1).max(3650).optional() });

export const DestinationBody = z.strictObject({
  name,
  location: z.string().min(1).max(2000).describe('An absolute path, or s3://, azure://, sftp:// (docs/DESTINATIONS.md).'),
  password: z.string().min(1).max(1024).describe('The repository password; stored sealed with the instance key.'),
  init: z.boolean().optional(),
  default: z.boolean().optional(),
  skipValidation: z.boolean().optional(),
  store: z
    .strictObject({ accessKeyId: z.string().max(256).optional(), secret: z.string().max(16384).optional(), sas: z.boolean().optional(), sshKey: z.boolean().optional() })
    .optional()
    .describe('The store\'s own credentials (write-only; stored sealed).'),
});

export const DestinationPatch = z
  .strictObject({
    password: z.string().min(1).max(1024).optional().describe('A new repository password (stored sealed).'),
    store: z.strictObject({ accessKeyId: z.string().max(256).optional(), secret: z.string().max(16384).optional(), sas: z.boolean().optional(), sshKey: z.boolean().optional() }).optional(),
  })
  .refine((b) => b.password || b.store?.secret, { message: 'give a new password or store secret' });

export const ApplicationBody = z.strictObject({ spec: z.string().min(1).max(256 * 1024).describe('The spec, YAML or JSON.'), replace: z.boolean().optional() });

/** What a notification is about: a job failed, partially failed, succeeded again, succeeded; an application's newest verified snapshot got older than its drill objective. */
export const NOTIFY_EVENTS = ['failure', 'partial', 'recovery', 'success', 'unverified'] as const;

export const Webhook = z.strictObject({
  url: z.string().url().max(2000),
  events: z.array(z.enum(NOTIFY_EVENTS)).min(1).default(['failure', 'partial', 'recovery', 'unverified']),
  secret: z.string().max(256).optional().describe('Signs each delivery: X-Strongbox-Signature = sha256=HMAC(secret, body).'),
});
export const NotificationSettings = z.strictObject({
  webhooks: z.array(Webhook).max(20).default([]),
  smtp: z
    .strictObject({
      host: z.string().min(1),
      port: z.number().int().min(1).max(65535).default(25),
      from: z.string().email(),
      to: z.array(z.string().email()).min(1),
      events: z.array(z.enum(NOTIFY_EVENTS)).min(1).default(['failure', 'partial', 'recovery', 'unverified']),
    })
    .optional(),
});
export type NotificationSettingsT = z.infer<typeof NotificationSettings>;

export const SecuritySettings = z.strictObject({
  operatorsMayRestore: z.boolean().default(false).describe('Let operators restore (admins only by default).'),
  operatorsMayDownload: z.boolean().default(false).describe('Let operators download archives (admins only by default).'),
});
export type SecuritySettingsT = z.infer<typeof SecuritySettings>;

export const MaintenanceBody = z.strictObject({ destination: name.optional(), readDataPercent: z.number().min(0).max(100).default(5), prune: z.boolean().default(true) });

export const JobsQuery = z.strictObject({ app: z.string().optional(), kind: z.string().optional(), phase: z.string().optional(), limit: z.coerce.number().int().min(1).max(1000).optional() });
export const SnapshotsQuery = z.strictObject({
  manifest: z.enum(['true', 'false']).optional().describe('true: whole manifests instead of summaries'),
  destination: name.optional(),
  app: z.string().optional(),
  type: z.enum(['files', 'application', 'full']).optional(),
  status: z.string().optional(),
  tag: z.string().optional().describe('Any of these tags (comma-separated).'),
  host: z.string().optional(),
  path: z.string().optional().describe('Snapshots that include this path.'),
});
export const AuditQuery = z.strictObject({ actor: z.string().optional(), action: z.string().optional(), since: z.string().optional(), limit: z.coerce.number().int().min(1).max(5000).optional() });
export const RemoveApplicationQuery = z.strictObject({ withSchedules: z.enum(['true', 'false']).optional().describe('Also remove the schedules that snapshot it.') });
export const DestinationQuery = z.strictObject({ destination: name.optional() });
/** POST /api/drills: a restore drill of a snapshot (default: the latest of the application, or the latest application or full snapshot). */
export const DrillBody = z.strictObject({ snapshot: z.string().min(1).max(80).optional(), apps: z.array(name).max(100).optional(), destination: name.nullable().optional(), timeout: z.string().min(1).max(40).optional().describe('The drill\'s time limit (2h, 90min); default 6h.'), spaceCheck: z.boolean().optional().describe('false: start even if the disk looks too small.') });
export const DrillsQuery = z.strictObject({ destination: name.optional(), snapshot: z.string().min(1).max(80).optional() });
const snapshotPath = z.string().max(4096).describe('A path in the snapshot, e.g. /notes/uploads (an application snapshot holds /APP/COMPONENT/…).');
export const FilesQuery = z.strictObject({ destination: name.optional(), path: snapshotPath.optional(), recursive: z.enum(['true', 'false']).optional().describe('true: every entry below the path (at most 100,000), not one directory.') });
export const FileQuery = z.strictObject({ destination: name.optional(), path: snapshotPath });
