// The bundle (`npm run build:bundle`, part of `npm run build`): tsc's output of src/ for the
// `strongbox` command and for its worker threads, in a few files under dist/bundle/ instead of
// some 140 modules. Node resolves, reads and links each ES module on its own, and that was most
// of the 0.34 s a command took to start (docs/PERFORMANCE.md, eleventh session). Packages from
// node_modules stay outside (native addons, the SDKs loaded only for their own destinations).
// The workers' entries are named here and in src/kernel/install.ts (ownModule); files that are
// not modules (addons, the console) are found from the package's root, so the bundle and tsc's
// output (the tests, the library) find the same ones.
import { defineConfig } from 'rolldown';

export default defineConfig({
  input: {
    strongbox: 'dist/src/cli/main.js',
    'codec-worker': 'dist/src/repo/workers/codec-worker.js',
    'parent-match': 'dist/src/engine/backup/parent-match.js',
  },
  platform: 'node',
  external: [/^node:/, /^[^./]/],
  output: {
    dir: 'dist/bundle',
    format: 'esm',
    cleanDir: true,
    keepNames: true,
    sourcemap: true,
  },
});
