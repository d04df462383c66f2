/** The catalog: Strongbox's own database (SQLite by default) and its stores; migrations live in code. */
export * from './database.js';
export * from './destinations.js';
export * from './applications.js';
export * from './snapshot-cache.js';
export * from './accounts.js';
export * from './jobs.js';
export * from './schedules.js';
export * from './audit.js';
export * from './settings.js';
export * from './drills.js';
