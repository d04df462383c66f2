// Runs every compiled test file (unit tests beside the code, end-to-end tests in test/e2e)
// with node's test runner. Pass file filters as arguments to run a subset.
import { spawnSync } from 'node:child_process';
import { accessSync, constants, readdirSync, readFileSync, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';

// The machine's prerequisites first: a missing one is one line naming every package, before any test runs.
function onPath(cmd) {
  if (cmd.startsWith('/')) return isExecutable(cmd);
  return (process.env.PATH ?? '').split(delimiter).some((d) => d && isExecutable(join(d, cmd)));
}
function isExecutable(p) {
  try {
    accessSync(p, constants.X_OK);
    return statSync(p).isFile();
  } catch {
    return false;
  }
}
const missing = new Set();
for (const line of readFileSync(new URL('./prerequisites.txt', import.meta.url), 'utf8').split('\n')) {
  const [cmd, pkg] = line.trim().split(/\s+/);
  if (!cmd || cmd.startsWith('#') || !pkg) continue;
  if (!onPath(cmd)) missing.add(pkg);
}
if (missing.size > 0) {
  const list = [...missing].sort().join(' ');
  console.error(`npm test needs these Debian packages, and runs nothing without them: ${list} (install them with: apt-get install ${list}; .ci/run does it for you)`);
  process.exit(1);
}

function find(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...find(p));
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

const filters = process.argv.slice(2);
const files = find('dist').filter((f) => filters.length === 0 || filters.some((x) => f.includes(x))).sort();
if (files.length === 0) {
  console.error('no test files found (did the build run?)');
  process.exit(1);
}
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=2', ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);
