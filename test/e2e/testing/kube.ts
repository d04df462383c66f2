import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { request } from 'node:https';
import { tmp } from './cli.js';
import { freePort } from './servers.js';

/**
 * A throwaway Kubernetes control plane for the Kubernetes tests: etcd, the API
 * server and the controller-manager (it finalizes deleted namespaces and
 * collects owned objects), built from the Go module proxy by
 * scripts/k8s-binaries.sh and started on free loopback ports with fresh keys and
 * a static admin token. No kubelet runs: pods never start. The controllers that
 * finalize namespaces, collect owned objects and release protected claims run. A missing binary fails
 * the test (npm test names the script; .ci/run runs it), never skips it.
 */
export interface KubeServer {
  url: string;
  token: string;
  /** A kubeconfig file for this server (admin). */
  kubeconfig: string;
  /** JSON over the API with the admin token: status and body. */
  api<T = unknown>(method: string, p: string, body?: unknown): Promise<{ status: number; body: T }>;
  stop(): Promise<void>;
}

export function kubeBinaries(): string {
  const dir = process.env.STRONGBOX_K8S_BIN ?? spawnSync('bash', [path.resolve(import.meta.dirname, '../../../../scripts/k8s-binaries.sh'), '--dir'], { encoding: 'utf8' }).stdout.trim();
  for (const b of ['etcd', 'kube-apiserver', 'kube-controller-manager']) {
    if (!existsSync(path.join(dir, b))) throw new Error(`${path.join(dir, b)} is missing: build the Kubernetes test binaries with scripts/k8s-binaries.sh (.ci/run does)`);
  }
  return dir;
}

export async function startKube(): Promise<KubeServer> {
  const bin = kubeBinaries();
  const dir = tmp('sb-kube-');
  const [client, peer, secure, cm] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  const token = `sb-test-${Math.random().toString(36).slice(2)}`;
  const key = spawnSync('openssl', ['genrsa', '-out', path.join(dir, 'sa.key'), '2048'], { encoding: 'utf8' });
  if (key.status !== 0) throw new Error(`openssl genrsa failed: ${key.stderr}`);
  spawnSync('openssl', ['rsa', '-in', path.join(dir, 'sa.key'), '-pubout', '-out', path.join(dir, 'sa.pub')]);
  writeFileSync(path.join(dir, 'tokens.csv'), `${token},admin,admin-uid,"system:masters"\n`);
  const url = `https://127.0.0.1:${secure}`;
  const kubeconfig = path.join(dir, 'kubeconfig');
  writeFileSync(
    kubeconfig,
    `apiVersion: v1\nkind: Config\nclusters:\n- name: test\n  cluster: { server: "${url}", insecure-skip-tls-verify: true }\nusers:\n- name: admin\n  user: { token: "${token}" }\ncontexts:\n- name: test\n  context: { cluster: test, user: admin }\ncurrent-context: test\n`,
  );
  const procs: ChildProcess[] = [];
  const start = (name: string, args: string[]) => {
    const p = spawn(path.join(bin, name), args, { stdio: ['ignore', 'ignore', 'ignore'] });
    procs.push(p);
    return p;
  };
  const stop = async () => {
    for (const p of procs.reverse()) {
      if (p.exitCode !== null || p.signalCode !== null) continue;
      const done = new Promise((r) => p.once('exit', r));
      p.kill('SIGTERM');
      await Promise.race([done, new Promise((r) => setTimeout(r, 5000))]);
      p.kill('SIGKILL');
    }
  };
  process.once('exit', () => procs.forEach((p) => p.kill('SIGKILL')));
  // The API server's certificate is its own, made at start: this client trusts it for the test's sake.
  const api = (method: string, p: string, body?: unknown) =>
    new Promise<{ status: number; body: unknown }>((resolve, reject) => {
      const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
      const req = request(new URL(p, url), { method, rejectUnauthorized: false, headers: { authorization: `Bearer ${token}`, ...(data ? { 'content-type': 'application/json', 'content-length': String(data.length) } : {}) } }, (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () => {
          const text = Buffer.concat(parts).toString('utf8');
          let parsed: unknown = text;
          try {
            parsed = text ? JSON.parse(text) : undefined;
          } catch {
            /* not JSON (e.g. /readyz) */
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
      });
      req.on('error', reject);
      req.end(data);
    });
  try {
    start('etcd', ['--data-dir', path.join(dir, 'etcd'), '--listen-client-urls', `http://127.0.0.1:${client}`, '--advertise-client-urls', `http://127.0.0.1:${client}`, '--listen-peer-urls', `http://127.0.0.1:${peer}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${peer}`, '--initial-cluster', `default=http://127.0.0.1:${peer}`]);
    start('kube-apiserver', [
      `--etcd-servers=http://127.0.0.1:${client}`,
      `--secure-port=${secure}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      '--endpoint-reconciler-type=none',
      `--cert-dir=${path.join(dir, 'certs')}`,
      '--service-account-issuer=https://kubernetes.default.svc',
      `--service-account-key-file=${path.join(dir, 'sa.pub')}`,
      `--service-account-signing-key-file=${path.join(dir, 'sa.key')}`,
      `--token-auth-file=${path.join(dir, 'tokens.csv')}`,
      '--authorization-mode=RBAC',
      '--service-cluster-ip-range=10.0.0.0/24',
    ]);
    const end = Date.now() + 90_000;
    for (;;) {
      const ready = await api('GET', '/readyz').catch(() => undefined);
      if (ready?.status === 200) break;
      if (Date.now() > end) throw new Error('kube-apiserver was not ready within 90 s');
      await new Promise((r) => setTimeout(r, 250));
    }
    start('kube-controller-manager', [`--kubeconfig=${kubeconfig}`, '--controllers=namespace-controller,garbage-collector-controller,persistentvolumeclaim-protection-controller,persistentvolume-protection-controller', '--leader-elect=false', `--secure-port=${cm}`, '--bind-address=127.0.0.1']);
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, token, kubeconfig, api: api as KubeServer['api'], stop };
}
