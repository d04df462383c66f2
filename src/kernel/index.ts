/** The leaf layer: error codes and AppError, progress events, the Clock, ids, abort helpers and units. Imports nothing of ours. */
export * from './errors.js';
export * from './abort.js';
export * from './progress.js';
export * from './ids.js';
export * from './gc.js';
export * from './secrets.js';
export * from './clock.js';
export * from './durable.js';
export * from './actor.js';
export * from './concurrency.js';
export * from './units.js';
export * from './install.js';
