// Runs every compiled test file (unit tests beside the code, end-to-end tests in test/e2e)
// with node's test runner. Pass file filters as arguments to run a subset.
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';

// The machine's prerequisites first: a missing one is one line naming every package, before any test runs.
function onPath(cmd) {
  if (cmd.startsWith('/')) return cmd.endsWith('.h') ? existsSync(cmd) : isExecutable(cmd);
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
// The Kubernetes tests' control plane, built from the Go module proxy and cached outside the work tree.
const kubeDir = spawnSync('bash', [new URL('./k8s-binaries.sh', import.meta.url).pathname, '--dir'], { encoding: 'utf8' }).stdout.trim();
const kubeMissing = ['etcd', 'kube-apiserver', 'kube-controller-manager'].some((b) => !isExecutable(join(kubeDir, b)));
// The S3 tests' server (SeaweedFS), built the same way.
const weed = spawnSync('bash', [new URL('./seaweedfs.sh', import.meta.url).pathname, '--path'], { encoding: 'utf8' }).stdout.trim();
const weedMissing = !isExecutable(weed);
if (missing.size > 0 || kubeMissing || weedMissing) {
  const list = [...missing].sort().join(' ');
  const parts = [
    ...(missing.size ? [`these Debian packages: ${list} (apt-get install ${list})`] : []),
    ...(kubeMissing ? ['the Kubernetes test binaries (bash scripts/k8s-binaries.sh builds them with Go, about 5 minutes)'] : []),
    ...(weedMissing ? ['the S3 test server (bash scripts/seaweedfs.sh builds SeaweedFS with Go, a few minutes)'] : []),
  ];
  console.error(`npm test needs ${parts.join(', and ')}, and runs nothing without them; .ci/run does all of it for you`);
  process.exit(1);
}
process.env.STRONGBOX_K8S_BIN = kubeDir;
process.env.STRONGBOX_SEAWEEDFS = weed;

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
