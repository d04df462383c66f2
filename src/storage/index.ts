/** Storage: the written Backend contract, its implementations (local/, later s3/, …) and wrappers. */
export * from './backend.js';
