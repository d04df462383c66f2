/**
 * Use-cases over a repository: backup, restore, check, forget (retention), prune,
 * stats, listing and diff. The engine never prints: it reports through a
 * ProgressSink and returns result objects; partial failure is data.
 */
export * from './backup/backup.js';
export type { SourceFs } from './backup/source-fs.js';
export { nodeFs } from './backup/source-fs.js';
export * from './restore/restore.js';
export * from './maintenance/check.js';
export * from './maintenance/prune.js';
export * from './maintenance/forget.js';
export * from './maintenance/stats.js';
export * from './retention.js';
export * from './browse.js';
export * from './glob.js';
export * from './maintenance/rebuild-index.js';
// Applications and drills bring the component kinds, hooks and the spec language with them:
// their values are in ./apps.js, loaded when an application is run (their types are here).
export type * from './applications/backup-app.js';
export type * from './applications/restore-app.js';
export * from './copy.js';
export * from './foreign.js';
export type * from './drill/drill.js';
