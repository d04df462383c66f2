/** Storage: the written Backend contract, its implementations (local/, later s3/, …) and wrappers. */
export * from './backend.js';
export * from './wrappers/retry.js';
export * from './wrappers/limit.js';
