import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { startKube, type KubeServer } from '../test/e2e/testing/kube.js';

/**
 * The Kubernetes scenario (`npm run bench -- --scenario kubernetes`): a namespace with
 * 2,000 objects (ConfigMaps, Secrets, Services, Deployments, service accounts, roles and
 * bindings, claims) and 1 GiB of volume data in four hostPath volumes, on a real API server;
 * a snapshot, then the namespace and the data deleted and restored. Wall time, CPU seconds
 * (user + system) and peak RSS of the strongbox process, by GNU time.
 */
export interface KubeMeasure {
  seconds: number;
  cpuSeconds: number;
  peakRssMiB: number;
}
export interface KubeBenchResult {
  objects: number;
  volumeBytes: number;
  snapshot: KubeMeasure;
  restore: KubeMeasure;
  incremental: KubeMeasure;
  identical: boolean;
}

function timed(argv: string[], env: NodeJS.ProcessEnv): Promise<KubeMeasure> {
  return new Promise((resolve, reject) => {
    const p = spawn('/usr/bin/time', ['-f', 'BENCH %e %U %S %M', process.execPath, ...argv], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('close', (code) => {
      const m = /BENCH ([\d.]+) ([\d.]+) ([\d.]+) (\d+)/.exec(err);
      if (code !== 0 || !m) reject(new Error(`strongbox ${argv.slice(1).join(' ')} failed (${code}): ${err.slice(-2000)}`));
      else resolve({ seconds: Number(m[1]), cpuSeconds: Number(m[2]) + Number(m[3]), peakRssMiB: Math.round(Number(m[4]) / 1024) });
    });
  });
}

async function pool<T>(items: T[], n: number, f: (t: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (next < items.length) await f(items[next++]!);
  }));
}

async function seed(kube: KubeServer, ns: string, vols: string, volumeBytes: number): Promise<number> {
  const must = async (p: string, body: unknown) => {
    const r = await kube.api('POST', p, body);
    if (r.status >= 300) throw new Error(`POST ${p}: ${r.status} ${JSON.stringify(r.body)}`);
  };
  await must('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  const jobs: [string, unknown][] = [];
  const text = (i: number) => `# settings ${i}\n` + Array.from({ length: 20 }, (_, k) => `key.${k} = value ${i * 31 + k}`).join('\n');
  for (let i = 0; i < 1100; i++) jobs.push([`/api/v1/namespaces/${ns}/configmaps`, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `config-${i}`, labels: { app: 'load', shard: String(i % 10) } }, data: { 'app.properties': text(i) } }]);
  for (let i = 0; i < 400; i++) jobs.push([`/api/v1/namespaces/${ns}/secrets`, { apiVersion: 'v1', kind: 'Secret', metadata: { name: `secret-${i}` }, type: 'Opaque', stringData: { token: createHash('sha256').update(`s${i}`).digest('hex') } }]);
  for (let i = 0; i < 200; i++) jobs.push([`/api/v1/namespaces/${ns}/services`, { apiVersion: 'v1', kind: 'Service', metadata: { name: `svc-${i}` }, spec: { selector: { app: `svc-${i}` }, ports: [{ port: 80, targetPort: 8080 }] } }]);
  const container = (i: number) => ({ name: 'main', image: `registry.example.com/app:${i}`, env: [{ name: 'CONFIG', valueFrom: { configMapKeyRef: { name: `config-${i}`, key: 'app.properties' } } }] });
  for (let i = 0; i < 150; i++) {
    const labels = { app: `svc-${i}` };
    jobs.push([`/apis/apps/v1/namespaces/${ns}/deployments`, { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: `app-${i}` }, spec: { replicas: 1, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [container(i)] } } } }]);
  }
  for (let i = 0; i < 50; i++) jobs.push([`/api/v1/namespaces/${ns}/serviceaccounts`, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: `sa-${i}` } }]);
  for (let i = 0; i < 48; i++) jobs.push([`/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/roles`, { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: `role-${i}` }, rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get'] }] }]);
  for (let i = 0; i < 48; i++) jobs.push([`/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/rolebindings`, { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: `rb-${i}` }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: `role-${i}` }, subjects: [{ kind: 'ServiceAccount', name: `sa-${i}`, namespace: ns }] }]);
  await pool(jobs, 16, ([p, b]) => must(p, b));
  // Four volumes of data: half incompressible, half text-like, in files of 1-16 MiB.
  const per = Math.floor(volumeBytes / 4);
  for (let v = 0; v < 4; v++) {
    const dir = path.join(vols, `data-${v}`);
    await fs.mkdir(dir, { recursive: true });
    let left = per;
    for (let f = 0; left > 0; f++) {
      const size = Math.min(left, (1 + ((f * 7 + v) % 16)) << 20);
      const buf = Buffer.alloc(size);
      if (f % 2 === 0) {
        let h = createHash('sha512').update(`${v}/${f}`).digest();
        for (let o = 0; o < size; o += h.length) {
          h.copy(buf, o);
          h = createHash('sha512').update(h).digest();
        }
      } else buf.write(`line ${v} ${f}: the quick brown fox jumps over the lazy dog\n`.repeat(Math.ceil(size / 60)).slice(0, size));
      await fs.writeFile(path.join(dir, `file-${f}.bin`), buf);
      left -= size;
    }
    await must('/api/v1/persistentvolumes', { apiVersion: 'v1', kind: 'PersistentVolume', metadata: { name: `${ns}-data-${v}` }, spec: { capacity: { storage: '1Gi' }, accessModes: ['ReadWriteOnce'], hostPath: { path: dir }, claimRef: { namespace: ns, name: `data-${v}` } } });
    await must(`/api/v1/namespaces/${ns}/persistentvolumeclaims`, { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: `data-${v}` }, spec: { accessModes: ['ReadWriteOnce'], volumeName: `${ns}-data-${v}`, storageClassName: '', resources: { requests: { storage: '1Gi' } } } });
  }
  return jobs.length + 8 + 1;
}

function treeHash(dir: string): string {
  return spawnSync('bash', ['-c', `cd ${dir} && find . -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum`], { encoding: 'utf8' }).stdout.trim();
}

export async function runKubeBench(work: string, strongbox: string, log: (s: string) => void, volumeGiB = 1): Promise<KubeBenchResult> {
  const kube = await startKube();
  try {
    const vols = path.join(work, 'volumes');
    const home = path.join(work, 'home');
    await fs.mkdir(vols, { recursive: true });
    const env = { STRONGBOX_HOME: home, STRONGBOX_PASSWORD: 'bench-password-1', STRONGBOX_CACHE_DIR: path.join(work, 'cache') };
    const run = (args: string[]) => {
      const r = spawnSync(process.execPath, [strongbox, ...args], { env: { ...process.env, ...env }, encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`strongbox ${args.join(' ')}: ${r.stderr}`);
      return r.stdout;
    };
    log('seeding 2,000 objects and the volumes… ');
    const objects = await seed(kube, 'load', vols, volumeGiB * 2 ** 30);
    const before = treeHash(vols);
    log(`${objects} objects\n`);
    run(['destination', 'add', 'main', path.join(work, 'repo'), '--init']);
    await fs.writeFile(path.join(work, 'load.yaml'), `apiVersion: strongbox/v1\nkind: Application\nmetadata: { name: load, version: "1" }\nspec:\n  components:\n    - name: cluster\n      kubernetes: { kubeconfig: ${kube.kubeconfig}, namespaces: [load], volumeRoots: [${vols}] }\n`);
    run(['app', 'add', '-f', path.join(work, 'load.yaml')]);
    const snapshot = await timed([strongbox, 'snapshot', 'create', '--app', 'load'], env);
    log(`snapshot: ${snapshot.seconds} s, ${snapshot.cpuSeconds.toFixed(1)} CPU-s, ${snapshot.peakRssMiB} MiB\n`);
    const incremental = await timed([strongbox, 'snapshot', 'create', '--app', 'load'], env);
    log(`unchanged, again: ${incremental.seconds} s, ${incremental.cpuSeconds.toFixed(1)} CPU-s, ${incremental.peakRssMiB} MiB\n`);
    const id = (JSON.parse(run(['snapshot', 'list', '--json'])) as { id: string }[])[0]!.id;
    await kube.api('DELETE', '/api/v1/namespaces/load');
    while ((await kube.api('GET', '/api/v1/namespaces/load')).status !== 404) await new Promise((r) => setTimeout(r, 250));
    await fs.rm(vols, { recursive: true });
    const restore = await timed([strongbox, 'snapshot', 'restore', id], env);
    log(`restore: ${restore.seconds} s, ${restore.cpuSeconds.toFixed(1)} CPU-s, ${restore.peakRssMiB} MiB\n`);
    const identical = treeHash(vols) === before;
    const counted = await kube.api<{ items: unknown[] }>('GET', '/api/v1/namespaces/load/configmaps');
    log(`volume data identical: ${identical}; ConfigMaps back: ${counted.body.items.length}\n`);
    return { objects, volumeBytes: volumeGiB * 2 ** 30, snapshot, incremental, restore, identical };
  } finally {
    await kube.stop();
  }
}
