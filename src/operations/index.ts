/**
 * The use-cases, one module each, shared by the CLI (in-process), the server
 * and — through the server — the console. Long ones are `JobOperation`s
 * (prepare → run → outcome) listed in `jobs.ts`; short ones are functions of
 * an `Env` and a `Caller`. See docs/DESIGN.md.
 */
export * from './context.js';
export * from './operation.js';
export * from './jobs.js';
export * from './repositories.js';
export * from './snapshot-create.js';
export * from './snapshot-restore.js';
export * from './snapshot-transfer.js';
export * from './snapshot-admin.js';
export * from './retention.js';
export * from './maintenance.js';
export * from './files.js';
export * from './repository.js';
export * from './applications.js';
export * from './destinations.js';
export * from './front.js';
export * from './local.js';
export * from './vocabulary.js';
export * from './licenses.js';
export * from './accounts.js';
export * from './schedules.js';
export * from './drills.js';
export * from './verification.js';
