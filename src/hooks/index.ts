/**
 * Hooks and child processes: running an operator's command with a timeout,
 * killing its whole process group when it hangs, capturing its output, and the
 * on-error policy that decides whether a failure stops the backup or restore.
 */
export * from './hooks.js';
export * from './process.js';
