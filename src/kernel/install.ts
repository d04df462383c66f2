/**
 * Where this installation's own files are: the native addons, the console's pages, the modules
 * a worker thread starts from or runs. They are found from the package's root, not from the
 * module that asks, because a module runs from one of two places: tsc's output (`dist/src/…`,
 * which the tests and the library use) or the bundle (`dist/bundle/`, made at build time from
 * tsc's output, which the `strongbox` command and its worker threads use so that they start
 * without resolving and loading some 140 modules one by one; docs/PERFORMANCE.md). Both lie
 * under the package's `dist/`.
 */
const HERE = import.meta.url;
const AT = HERE.lastIndexOf('/dist/');
// Not under a dist/ (sources run by a TypeScript loader): this module is src/kernel/install.
const ROOT = AT < 0 ? new URL('../../', HERE) : new URL(HERE.slice(0, AT + 1));

/** This code runs from the bundle, not from tsc's output. */
const BUNDLED = HERE.includes('/dist/bundle/');

/** A file of this installation, by its path from the package's root (`build/Release/…`, `dist/web/`). */
export function installedFile(relative: string): URL {
  return new URL(relative, ROOT);
}

/**
 * One of Strongbox's own modules that a thread starts from or a worker runs: `source` under
 * tsc's output, or the bundle's entry `entry` (rolldown.config.mjs names each) when this code
 * runs bundled, so that a thread never mixes the two.
 */
export function ownModule(source: string, entry: string): URL {
  return BUNDLED ? installedFile(`dist/bundle/${entry}.js`) : installedFile(`dist/src/${source}`);
}

/** Where Strongbox's own modules may lie: a worker runs no module from anywhere else. */
export const OWN_MODULE_DIRS: readonly string[] = [installedFile('dist/src/').href, installedFile('dist/bundle/').href];
