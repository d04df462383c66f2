/**
 * What only applications need, loaded by the operations that use it when they run:
 * the spec language (zod and yaml), the component kinds and the application engine.
 * A snapshot, restore or listing of files never loads them — about 17 MiB of a
 * process's memory (docs/PERFORMANCE.md); test/e2e/cli.test.ts checks that it does not.
 */
export const specLanguage = () => import('../spec/index.js');
export const componentKinds = () => import('../sources/index.js');
export const applicationEngine = () => import('../engine/apps.js');
