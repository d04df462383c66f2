/** Jobs as records with phases, the runner (concurrency, cancel, progress, logs) and the scheduler (cron, an injected Clock). Stores are interfaces the catalog implements. */
export * from './job.js';
export * from './progress.js';
export * from './runner.js';
export * from './schedule.js';
export * from './scheduler.js';
export * from './cron-text.js';
