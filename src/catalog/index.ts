/** The catalog: Strongbox's own database (SQLite by default) and its stores; migrations live in code. */
export * from './database.js';
export * from './destinations.js';
export * from './applications.js';
export * from './snapshot-cache.js';
