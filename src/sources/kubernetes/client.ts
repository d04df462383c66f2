import { request, type RequestOptions } from 'node:https';
import { request as httpRequest } from 'node:http';
import type { KubeConfig } from '@kubernetes/client-node';
import { AppError } from '../../kernel/index.js';

/** How to reach the API server: a kubeconfig (and a context in it) or the pod's own service account. */
export interface Connection {
  kubeconfig?: string | undefined;
  context?: string | undefined;
  inCluster?: boolean | undefined;
}

/** A served API resource, as discovery reports it (preferred version of its group). */
export interface ApiResource {
  group: string;
  version: string;
  /** group/version, or v1 for the core group. */
  apiVersion: string;
  kind: string;
  /** The plural resource name: deployments. */
  plural: string;
  namespaced: boolean;
  verbs: string[];
}

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [k: string]: unknown };
  [k: string]: unknown;
}

export interface Answer<T = unknown> {
  status: number;
  body: T;
}

const MAX_RESPONSE = 256 * 1024 * 1024;

/**
 * JSON over the Kubernetes API, authenticated by @kubernetes/client-node's
 * KubeConfig (tokens, client certificates, exec plugins, in-cluster service
 * accounts). Objects are kept as the server sent them, as plain JSON: typed
 * client models would drop fields they do not know, and a backup must not.
 */
export class KubeClient {
  private constructor(
    private readonly kc: KubeConfig,
    readonly server: string,
    readonly contextName: string,
  ) {}

  /**
   * The client library is loaded here, on first use: it costs about 80 MiB of memory and
   * 0.3 s to load, which every other command (a backup of files, say) must not pay.
   */
  static async connect(c: Connection): Promise<KubeClient> {
    const { KubeConfig } = await import('@kubernetes/client-node');
    const kc = new KubeConfig();
    try {
      if (c.inCluster) kc.loadFromCluster();
      else if (c.kubeconfig) kc.loadFromFile(c.kubeconfig);
      else kc.loadFromDefault();
    } catch (err) {
      throw new AppError('INVALID_ARGUMENT', `Cannot read the Kubernetes configuration${c.kubeconfig ? ` ${c.kubeconfig}` : ''}: ${(err as Error).message}. Give a readable kubeconfig (kubeconfig: PATH) or run inside the cluster (inCluster: true).`);
    }
    if (c.context) {
      if (!kc.getContextObject(c.context)) throw new AppError('INVALID_ARGUMENT', `The kubeconfig${c.kubeconfig ? ` ${c.kubeconfig}` : ''} has no context "${c.context}" (it has: ${kc.getContexts().map((x) => x.name).join(', ') || 'none'}).`);
      kc.setCurrentContext(c.context);
    }
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new AppError('INVALID_ARGUMENT', `The Kubernetes configuration${c.kubeconfig ? ` ${c.kubeconfig}` : ''} names no cluster for context "${kc.getCurrentContext()}".`);
    return new KubeClient(kc, cluster.server.replace(/\/+$/, ''), c.inCluster ? 'in-cluster' : kc.getCurrentContext());
  }

  /** One request; the body is parsed JSON (or text). Network failures are STORAGE_UNAVAILABLE. */
  async request<T = unknown>(method: string, path: string, body?: unknown, contentType = 'application/json', signal?: AbortSignal): Promise<Answer<T>> {
    const url = new URL(this.server + path);
    const opts: RequestOptions = { method, headers: { accept: 'application/json' } };
    await this.kc.applyToHTTPSOptions(opts);
    const data = body === undefined ? undefined : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
    if (data) opts.headers = { ...opts.headers, 'content-type': contentType, 'content-length': String(data.length) };
    const send = url.protocol === 'http:' ? httpRequest : request;
    return new Promise<Answer<T>>((resolve, reject) => {
      const req = send(url, { ...opts, ...(signal ? { signal } : {}), timeout: 60_000 }, (res) => {
        const parts: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_RESPONSE) {
            req.destroy(new AppError('STORAGE_UNAVAILABLE', `The Kubernetes API server sent more than ${MAX_RESPONSE >> 20} MiB for ${path}.`));
            return;
          }
          parts.push(c);
        });
        res.on('end', () => {
          const text = Buffer.concat(parts).toString('utf8');
          let parsed: unknown = text;
          try {
            parsed = text ? JSON.parse(text) : undefined;
          } catch {
            /* not JSON: keep the text */
          }
          resolve({ status: res.statusCode ?? 0, body: parsed as T });
        });
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error('no answer within 60 s')));
      req.on('error', (err) => {
        if (err instanceof AppError) reject(err);
        else if (signal?.aborted) reject(new AppError('CANCELLED', 'Cancelled.', { cause: err }));
        else reject(new AppError('STORAGE_UNAVAILABLE', `Cannot reach the Kubernetes API server ${this.server} (context ${this.contextName}): ${err.message}. Check that it runs and that the kubeconfig points at it.`, { cause: err }));
      });
      req.end(data);
    });
  }

  /** GET that must succeed; a refusal names the path and the server's reason. */
  async get<T>(path: string, signal?: AbortSignal): Promise<T> {
    const r = await this.request<T>('GET', path, undefined, undefined, signal);
    if (r.status !== 200) throw refusal(this, 'GET', path, r);
    return r.body;
  }

  /** Every served resource, built-in and custom, in each group's preferred version. */
  async discover(signal?: AbortSignal): Promise<ApiResource[]> {
    const out: ApiResource[] = [];
    const add = (group: string, version: string, list: { resources?: { name: string; kind: string; namespaced: boolean; verbs?: string[] }[] }) => {
      for (const r of list.resources ?? []) {
        if (r.name.includes('/')) continue; // subresources (status, scale, log)
        out.push({ group, version, apiVersion: group ? `${group}/${version}` : version, kind: r.kind, plural: r.name, namespaced: r.namespaced, verbs: r.verbs ?? [] });
      }
    };
    add('', 'v1', await this.get('/api/v1', signal));
    const groups = await this.get<{ groups?: { name: string; preferredVersion?: { version: string }; versions: { version: string }[] }[] }>('/apis', signal);
    for (const g of groups.groups ?? []) {
      const version = g.preferredVersion?.version ?? g.versions[0]?.version;
      if (!version) continue;
      const r = await this.request<{ resources?: [] }>('GET', `/apis/${g.name}/${version}`, undefined, undefined, signal);
      // An aggregated API that is down (metrics.k8s.io without its server) is left out, not fatal.
      if (r.status === 200) add(g.name, version, r.body);
    }
    return out;
  }

  /** The path of a resource's collection (in a namespace, or cluster-wide). */
  static collection(r: Pick<ApiResource, 'group' | 'version' | 'plural' | 'namespaced'>, namespace?: string): string {
    const base = r.group ? `/apis/${r.group}/${r.version}` : `/api/${r.version}`;
    return r.namespaced && namespace ? `${base}/namespaces/${encodeURIComponent(namespace)}/${r.plural}` : `${base}/${r.plural}`;
  }

  /**
   * Every object of a resource, a page at a time. With `resourceVersion` every
   * list reads the same point of the cluster's history (exact match): one
   * consistent cut across resources while the server keeps that revision.
   */
  async list(r: ApiResource, opts: { namespace?: string; labelSelector?: string; resourceVersion?: string; signal?: AbortSignal }): Promise<{ items: KubeObject[]; resourceVersion: string }> {
    const items: KubeObject[] = [];
    let cont: string | undefined;
    let rv = '';
    do {
      const q = new URLSearchParams({ limit: '500' });
      if (opts.labelSelector) q.set('labelSelector', opts.labelSelector);
      if (cont) q.set('continue', cont);
      else if (opts.resourceVersion) {
        q.set('resourceVersion', opts.resourceVersion);
        q.set('resourceVersionMatch', 'Exact');
      }
      const path = `${KubeClient.collection(r, opts.namespace)}?${q.toString()}`;
      const a = await this.request<{ items?: KubeObject[]; metadata?: { continue?: string; resourceVersion?: string } }>('GET', path, undefined, undefined, opts.signal);
      if (a.status !== 200) throw refusal(this, 'GET', path, a);
      for (const it of a.body.items ?? []) items.push({ ...it, apiVersion: r.apiVersion, kind: r.kind });
      cont = a.body.metadata?.continue || undefined;
      rv = a.body.metadata?.resourceVersion ?? rv;
    } while (cont);
    return { items, resourceVersion: rv };
  }
}

/** The API server's reason for refusing a request, from its Status body. */
export function reasonOf(a: Answer): string {
  const b = a.body as { message?: string; reason?: string } | string | undefined;
  if (b && typeof b === 'object' && b.message) return b.message;
  if (typeof b === 'string' && b.trim()) return b.trim().split('\n')[0]!.slice(0, 300);
  return `HTTP ${a.status}`;
}

function refusal(c: KubeClient, method: string, path: string, a: Answer): AppError {
  const reason = reasonOf(a);
  if (a.status === 401) return new AppError('INVALID_ARGUMENT', `The Kubernetes API server ${c.server} did not accept the credentials of context ${c.contextName}: ${reason}. Renew the token or certificate in the kubeconfig.`);
  if (a.status === 403) return new AppError('FORBIDDEN', `The Kubernetes API server refused ${method} ${path.split('?')[0]} to the credentials of context ${c.contextName}: ${reason}. Grant it the role in deploy/kubernetes/rbac.yaml.`);
  return new AppError('STORAGE_UNAVAILABLE', `The Kubernetes API server ${c.server} answered ${method} ${path.split('?')[0]} with ${a.status}: ${reason}.`);
}
