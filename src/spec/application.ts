import { z } from 'zod';
import { LineCounter, parseDocument, isNode, type Document } from 'yaml';
import { AppError } from '../kernel/index.js';
import { componentKinds, kindSchemas, type ComponentKindName } from '../sources/index.js';
import { hookListSchema } from '../hooks/index.js';
import { formatProblems, NAME_RE, type SpecProblem } from './common.js';

/**
 * The application spec: what an application's state is (components) and what
 * to run around a backup or restore (hooks). Parsing is pure: text in, a typed
 * spec or a list of problems with line numbers out. Field names may grow, never
 * change (docs/APPLICATIONS.md; JSON Schema in docs/application.schema.json).
 */
export { formatProblems, NAME_RE, type SpecProblem };
const name = z.string().regex(NAME_RE, 'use lowercase letters, digits and "-" (at most 63), starting and ending with a letter or digit');

const phases = {
  preBackup: hookListSchema.optional(),
  postBackup: hookListSchema.optional(),
  preRestore: hookListSchema.optional(),
  postRestore: hookListSchema.optional(),
  migrate: hookListSchema.optional().describe('After a restore of a snapshot made with another version of the application: commands that bring its data to this version (STRONGBOX_FROM_VERSION, STRONGBOX_TO_VERSION in their environment). They run after postRestore.'),
};
export const hooksSchema = z.strictObject(phases).describe('Commands run around a backup or restore, in order.');

export const EXPECT_RE = /^(rows|no rows|(=|!=|>=|<=|>|<)\s*-?\d+(\.\d+)?|within \d+\s*(min|h|d|w) of the snapshot)$/;
const DURATION_UNIT: Record<string, number> = { min: 60e3, h: 3600e3, d: 86400e3, w: 7 * 86400e3 };
/** Application checks a restore drill runs on the restored target (docs/DRILLS.md): a query with its expected result, or a command. */
export const checkSchema = z
  .strictObject({
    name: z.string().min(1).max(100).optional(),
    sql: z.string().min(1).max(4000).optional().describe('A query run on the drill\'s throwaway database after the restore (postgres, mysql, sqlite components).'),
    expect: z
      .string()
      .regex(EXPECT_RE, 'one of: rows, no rows, a comparison of the first value such as ">= 1", "= 0", "> 100", or "within 2d of the snapshot" (the first value a time)')
      .optional()
      .describe('What the query must return: "rows", "no rows", a comparison of its first value (">= 1"), or "within 1d of the snapshot" (its first value a time no older than that before the snapshot).'),
    command: z.array(z.string()).min(1).optional().describe('A command run after the restore with the throwaway target\'s connection details in its environment (STRONGBOX_DRILL_URL, PGHOST/PGPORT/PGUSER/PGDATABASE, STRONGBOX_DRILL_PATH, STRONGBOX_DRILL_FILE); exit status 0 passes.'),
    timeout: z.string().regex(/^\d+(ms|s|m|h)$/).optional().describe('A command check\'s time limit (default 5m).'),
  })
  .superRefine((c, ctx) => {
    if (c.command && (c.sql || c.expect)) ctx.addIssue({ code: 'custom', message: 'a check is a query (sql + expect) or a command, not both' });
    else if (!c.command && !(c.sql && c.expect)) ctx.addIssue({ code: 'custom', message: 'give sql and expect (a query and its expected result), or command' });
    if (c.timeout && !c.command) ctx.addIssue({ code: 'custom', message: 'timeout is for command checks', path: ['timeout'] });
  });
export type ApplicationCheck = z.infer<typeof checkSchema>;

const componentShape = {
  name: name.describe('Unique within the application; names the component in snapshots, restores and --map.'),
  hooks: hooksSchema.optional(),
  checks: z.array(checkSchema).max(50).optional().describe('Restore drills: queries run on the restored database (postgres, mysql, sqlite components), each with the result it must give, or commands run against the restored target (any kind).'),
  ...Object.fromEntries(componentKinds.map((k) => [k, kindSchemas[k].optional()])),
} as Record<string, z.ZodType>;

export const componentSchema = z
  .strictObject(componentShape)
  .superRefine((c, ctx) => {
    const kinds = componentKinds.filter((k) => (c as Record<string, unknown>)[k] !== undefined);
    const checks = ((c as { checks?: { sql?: string }[] }).checks ?? []).filter((k) => k.sql);
    if (checks.length && kinds.length === 1 && !['postgres', 'mysql', 'sqlite'].includes(kinds[0]!)) ctx.addIssue({ code: 'custom', message: `sql checks are queries on a restored database: postgres, mysql and sqlite components have them, not ${kinds[0]} (give a command check instead)`, path: ['checks'] });
    if (kinds.length !== 1) {
      ctx.addIssue({
        code: 'custom',
        message: kinds.length === 0 ? `give the component's kind: one of ${componentKinds.join(', ')}` : `a component has one kind; this one has ${kinds.join(' and ')}`,
      });
    }
  })
  .describe('One part of the application\'s state; exactly one kind key.');

export const applicationSchema = z.strictObject({
  apiVersion: z.literal('strongbox/v1'),
  kind: z.literal('Application'),
  metadata: z.strictObject({
    name,
    version: z.string().min(1).max(64).describe('The application\'s version; recorded in every snapshot.'),
    vendor: z.string().max(200).optional(),
    description: z.string().max(2000).optional(),
    labels: z.record(z.string(), z.string()).optional(),
  }),
  spec: z.strictObject({
    components: z
      .array(componentSchema)
      .min(1, 'an application needs at least one component')
      .superRefine((list, ctx) => {
        const seen = new Set<string>();
        list.forEach((c, i) => {
          const n = (c as { name: string }).name;
          if (seen.has(n)) ctx.addIssue({ code: 'custom', message: `component name "${n}" is used twice`, path: [i, 'name'] });
          seen.add(n);
        });
      }),
    hooks: hooksSchema.optional(),
    license: z
      .strictObject({
        publicKey: z
          .string()
          .regex(/^[A-Za-z0-9+/]{43}=$/, 'the vendor\'s Ed25519 public key, 32 bytes in base64 (as "strongbox license keygen" prints it)')
          .describe('The vendor\'s Ed25519 public key (base64 of the 32 raw bytes). Snapshots of this application need a license it signed.'),
        product: z.string().min(1).max(100).optional().describe('The product a license must name (default: the application\'s name).'),
      })
      .optional()
      .describe('Vendor licensing: snapshots and schedules of this application need an installed, unexpired license with the "snapshots" entitlement.'),
  }),
});

export type HookPhase = keyof typeof phases;
export type Hooks = z.infer<typeof hooksSchema>;
export interface ComponentSpec {
  name: string;
  kind: ComponentKindName;
  /** The kind's options, validated by its own schema. */
  options: Record<string, unknown>;
  hooks?: Hooks;
  checks?: ApplicationCheck[];
}

/** Whether a query's rows meet an expectation ("rows", "no rows", ">= 1" on the first value); the reason when not. */
export function meetsExpectation(expect: string, rows: string[][], snapshotTime?: string): { ok: boolean; actual: string } {
  const first = rows[0]?.[0];
  const actual = rows.length === 0 ? 'no rows' : rows.length === 1 ? String(first ?? '') : `${rows.length} rows, the first value ${String(first ?? '')}`;
  if (expect === 'rows') return { ok: rows.length > 0, actual };
  if (expect === 'no rows') return { ok: rows.length === 0, actual };
  const w = /^within (\d+)\s*(min|h|d|w) of the snapshot$/.exec(expect);
  if (w) {
    // A time from the database (PostgreSQL, MariaDB and SQLite spellings): no older than the limit before the snapshot.
    const t = first ? Date.parse(/[zZ]|[+-]\d\d(:?\d\d)?$/.test(first.trim()) ? first.trim().replace(' ', 'T').replace(/([+-]\d\d)$/, '$1:00') : `${first.trim().replace(' ', 'T')}Z`) : NaN;
    if (Number.isNaN(t) || !snapshotTime) return { ok: false, actual: Number.isNaN(t) ? `${actual} (not a time)` : actual };
    const behind = Date.parse(snapshotTime) - t;
    const limit = Number(w[1]) * DURATION_UNIT[w[2]!]!;
    return { ok: behind <= limit, actual: `${first!.trim()}, ${behind <= 0 ? 'not older than the snapshot' : `${formatAge(behind)} before the snapshot`}` };
  }
  const m = /^(=|!=|>=|<=|>|<)\s*(-?\d+(?:\.\d+)?)$/.exec(expect);
  if (!m || first === undefined || first.trim() === '' || Number.isNaN(Number(first))) return { ok: false, actual };
  const v = Number(first);
  const n = Number(m[2]);
  const ok = { '=': v === n, '!=': v !== n, '>=': v >= n, '<=': v <= n, '>': v > n, '<': v < n }[m[1] as '='];
  return { ok, actual };
}

function formatAge(ms: number): string {
  if (ms < 3600e3) return `${Math.round(ms / 60e3)} min`;
  if (ms < 2 * 86400e3) return `${(ms / 3600e3).toFixed(1)} h`;
  return `${(ms / 86400e3).toFixed(1)} days`;
}
export interface ApplicationSpec {
  apiVersion: 'strongbox/v1';
  kind: 'Application';
  metadata: { name: string; version: string; vendor?: string; description?: string; labels?: Record<string, string> };
  spec: { components: Record<string, unknown>[]; hooks?: Hooks; license?: { publicKey: string; product?: string } };
}

export type ParseResult = { ok: true; spec: ApplicationSpec } | { ok: false; problems: SpecProblem[] };

/** The largest spec accepted (CLI and API alike): a spec is a page of YAML, not a data set. */
export const MAX_SPEC_BYTES = 256 * 1024;

/** Parses and validates a spec (YAML or JSON text). Never throws for bad input. */
export function parseApplication(text: string): ParseResult {
  const size = Buffer.byteLength(text, 'utf8');
  if (size > MAX_SPEC_BYTES) return { ok: false, problems: [{ line: 1, path: '', message: `the spec has ${size} bytes; a spec may have at most ${MAX_SPEC_BYTES}` }] };
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    return {
      ok: false,
      problems: doc.errors.map((e) => {
        const pos = lc.linePos(e.pos[0]);
        return { line: pos.line, column: pos.col, path: '', message: `not valid YAML: ${e.message.split('\n')[0]}` };
      }),
    };
  }
  let value: unknown;
  try {
    // Aliases are expanded with a bound: a few lines of YAML must not expand into gigabytes.
    value = doc.toJS({ maxAliasCount: 50 });
  } catch (err) {
    return { ok: false, problems: [{ line: 1, path: '', message: `not accepted: ${(err as Error).message}` }] };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { ok: false, problems: [{ line: 1, path: '', message: 'a spec is a mapping with apiVersion, kind, metadata and spec' }] };
  }
  const res = applicationSchema.safeParse(value);
  if (res.success) return { ok: true, spec: res.data as ApplicationSpec };
  return { ok: false, problems: res.error.issues.flatMap((i) => describeIssue(i, doc, lc)) };
}

function describeIssue(issue: z.core.$ZodIssue, doc: Document, lc: LineCounter): SpecProblem[] {
  const at = (p: PropertyKey[]) => locate(doc, lc, p);
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((k) => {
      const inComponent = issue.path.length === 3 && issue.path[1] === 'components';
      const message = inComponent
        ? `unknown component kind or field "${k}"; a component has a name, hooks and one of: ${componentKinds.join(', ')}`
        : `unknown field "${k}"`;
      return { ...at([...issue.path, k]), path: dotted([...issue.path, k]), message };
    });
  }
  let message = issue.message;
  if (issue.code === 'invalid_type' && /received undefined/.test(issue.message)) message = 'required';
  return [{ ...at(issue.path), path: dotted(issue.path), message }];
}

function locate(doc: Document, lc: LineCounter, p: PropertyKey[]): { line?: number; column?: number } {
  const path = p.map((x) => (typeof x === 'symbol' ? String(x) : x));
  for (let n = path.length; n >= 0; n--) {
    const sub = path.slice(0, n);
    // A missing key: point at its parent. An unknown key: point at the key itself.
    const node: unknown = n === 0 ? doc.contents : doc.getIn(sub, true);
    const pair = n > 0 ? findPair(doc, sub) : undefined;
    const range = (pair && isNode(pair) ? pair.range : undefined) ?? (isNode(node) ? node.range : undefined);
    if (range) {
      const pos = lc.linePos(range[0]);
      return { line: pos.line, column: pos.col };
    }
  }
  return {};
}

function findPair(doc: Document, path: (string | number)[]): unknown {
  const parent: unknown = path.length === 1 ? doc.contents : doc.getIn(path.slice(0, -1), true);
  const items = (parent as { items?: { key?: unknown }[] } | undefined)?.items;
  if (!Array.isArray(items)) return undefined;
  const last = path[path.length - 1];
  const pair = items.find((it) => isNode(it.key) && (it.key as { value?: unknown }).value === last);
  return pair?.key;
}

function dotted(p: PropertyKey[]): string {
  return p.map((x, i) => (typeof x === 'number' ? `[${x}]` : (i > 0 ? '.' : '') + String(x))).join('');
}

/** Parses a spec or throws INVALID_ARGUMENT listing every problem with its line. */
export function loadApplication(text: string, file = 'spec'): ApplicationSpec {
  const r = parseApplication(text);
  if (!r.ok) throw new AppError('INVALID_ARGUMENT', `${file} is not a valid application spec:\n${formatProblems(file, r.problems)}`, { details: { problems: r.problems } });
  return r.spec;
}

export function components(spec: ApplicationSpec): ComponentSpec[] {
  return spec.spec.components.map((c) => {
    const kind = componentKinds.find((k) => c[k] !== undefined)!;
    return { name: c.name as string, kind, options: c[kind] as Record<string, unknown>, ...(c.hooks ? { hooks: c.hooks as Hooks } : {}), ...(c.checks ? { checks: c.checks as ApplicationCheck[] } : {}) };
  });
}

export function applicationJsonSchema(): unknown {
  return z.toJSONSchema(applicationSchema, { target: 'draft-2020-12', io: 'input', unrepresentable: 'any' });
}
