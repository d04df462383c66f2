/**
 * Application specs: the YAML an operator or vendor writes to say what an
 * application's state is. Pure parsing and validation with line numbers.
 */
export * from './application.js';
export * from './license.js';
export * from './velero.js';
