/**
 * The application engine: backups and restores of applications (their components
 * through the component kinds, their hooks) and restore drills. It brings the
 * component kinds, the hooks and the spec language (zod, yaml) with it, so the
 * operations load it when they run an application, and a command on a repository
 * of files never does (docs/PERFORMANCE.md: about 17 MiB of every process).
 * Their types are exported by the engine's index as well.
 */
export * from './applications/backup-app.js';
export * from './applications/restore-app.js';
export * from './drill/drill.js';
