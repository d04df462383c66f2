import { useEffect, useState, type FormEvent } from 'react';
import { ApiError, call, can, get, post, type Me, message, submitting } from '../api.js';
import { Table } from '../components.js';

interface Destination {
  name: string;
  kind: string;
  location: string;
  password: string;
  isDefault: boolean;
  credentials: string;
}

/** Destinations: where snapshots go. Added with validation that names the failing step; secrets are write-only. */
export function Destinations({ me }: { me: Me }) {
  const [list, setList] = useState<Destination[]>();
  const [status, setStatus] = useState<Record<string, string>>({});
  const [error, setError] = useState<string>();
  const load = () => get<Destination[]>('/api/destinations').then(setList, (e: Error) => setError(e.message));
  useEffect(() => {
    void load();
  }, []);
  const test = async (name: string) => {
    setStatus((s) => ({ ...s, [name]: 'testing…' }));
    try {
      const r = await post<{ steps: string[]; snapshots: number }>(`/api/destinations/${name}/validate`);
      setStatus((s) => ({ ...s, [name]: `works: ${r.steps.join(', ')}; ${r.snapshots} snapshot(s)` }));
    } catch (e) {
      setStatus((s) => ({ ...s, [name]: `failed: ${message(e)}` }));
    }
  };
  return (
    <>
      <h1>Destinations</h1>
      {error && <div className="error" role="alert">{error}</div>}
      {list && list.length === 0 && <div className="panel empty">No destination yet: add one below (a directory, S3, Azure or SFTP).</div>}
      {list && list.length > 0 && (
        <Table
          head={['Name', 'Kind', 'Location', 'Password', 'Store credentials', null]}
          rows={list}
          rowKey={(d) => d.name}
          cells={(d) => [
            <>{d.name} {d.isDefault && <span className="status completed">default</span>}</>,
            d.kind,
            d.location,
            d.password,
            d.credentials,
            <>
                  <div className="row">
                    {can(me, 'operator') && <button onClick={() => void test(d.name)}>Test</button>}
                    {can(me, 'admin') && <EditSecrets d={d} onSaved={load} />}
                    {can(me, 'admin') && !d.isDefault && <button onClick={() => void call('POST', `/api/destinations/${d.name}/default`, {}).then(load, (e: unknown) => setError(message(e)))}>Make default</button>}
                  </div>
                  {status[d.name] && <div role="status" className={status[d.name]!.startsWith('failed') ? 'gap' : 'muted'}>{status[d.name]}</div>}
              </>,
          ]}
        />
      )}
      {can(me, 'admin') && <AddDestination onAdded={load} />}
    </>
  );
}

/** New secrets for a destination (a changed repository password, new store credentials): validated first, write-only. */
function EditSecrets({ d, onSaved }: { d: Destination; onSaved: () => Promise<unknown> }) {
  const [open, setOpen] = useState(false);
  const [password, setPassword] = useState('');
  const [secret, setSecret] = useState('');
  const [error, setError] = useState<string>();
  if (!open) return <button onClick={() => setOpen(true)}>Edit secrets</button>;
  const save = async (e: FormEvent) => {
    e.preventDefault();
    setError(undefined);
    try {
      await call('PATCH', `/api/destinations/${d.name}`, { ...(password ? { password } : {}), ...(secret ? { store: { secret } } : {}) });
      setOpen(false);
      await onSaved();
    } catch (err) {
      setError(message(err));
    }
  };
  return (
    <form onSubmit={(e) => void save(e)} aria-label={`Secrets of ${d.name}`}>
      <label htmlFor={`ep-${d.name}`}>New repository password</label>
      <input id={`ep-${d.name}`} type="password" autoComplete="new-password" value={password} onChange={(e) => setPassword(e.target.value)} />
      {d.kind !== 'local' && (
        <>
          <label htmlFor={`es-${d.name}`}>New store secret</label>
          <input id={`es-${d.name}`} type="password" autoComplete="off" value={secret} onChange={(e) => setSecret(e.target.value)} />
        </>
      )}
      {error && <div className="error" role="alert">{error}</div>}
      <p className="row">
        <button className="primary" type="submit" disabled={!password && !secret}>Validate and save</button>
        <button type="button" onClick={() => setOpen(false)}>Cancel</button>
      </p>
    </form>
  );
}

export function AddDestination({ onAdded, title = 'Add a destination' }: { onAdded: () => Promise<unknown>; title?: string }) {
  const [f, setF] = useState({ name: '', kind: 'local', location: '', password: '', init: true, accessKeyId: '', secret: '' });
  const [error, setError] = useState<string>();
  const [done, setDone] = useState<string>();
  const set = (k: keyof typeof f) => (e: { target: { value: string } }) => setF({ ...f, [k]: e.target.value });
  const hints: Record<string, string> = { local: '/srv/backups/strongbox', s3: 's3://bucket/prefix?region=eu-west-1', azure: 'azure://account/container/prefix', sftp: 'sftp://backup@host:22/srv/strongbox' };
  const submit = submitting(setError, async () => {
    setError(undefined);
    setDone(undefined);
    const store = f.secret ? { ...(f.accessKeyId ? { accessKeyId: f.accessKeyId } : {}), secret: f.secret } : undefined;
    const r = await post<{ validation: { steps: string[] } | null }>('/api/destinations', { name: f.name, location: f.location, password: f.password, init: f.init, ...(store ? { store } : {}) });
    setDone(`Added ${f.name}: ${r.validation?.steps.join(', ') ?? 'not validated'}`);
    setF({ ...f, name: '', location: '', password: '', secret: '' });
    await onAdded();
  });
  return (
    <form className="panel" onSubmit={(e) => void submit(e)} aria-label={title}>
      <h2>{title}</h2>
      <div className="row">
        <div className="grow">
          <label htmlFor="d-name">Name</label>
          <input id="d-name" value={f.name} onChange={set('name')} required pattern="[a-z0-9][a-z0-9._\-]{0,62}" title="lower-case letters, digits, '.', '_', '-'" />
        </div>
        <div className="grow">
          <label htmlFor="d-kind">Kind</label>
          <select id="d-kind" value={f.kind} onChange={set('kind')}>
            <option value="local">Local or mounted directory</option>
            <option value="s3">S3 (or compatible)</option>
            <option value="azure">Azure Blob Storage</option>
            <option value="sftp">SFTP</option>
          </select>
        </div>
      </div>
      <label htmlFor="d-location">Location</label>
      <input id="d-location" value={f.location} onChange={set('location')} placeholder={hints[f.kind]} required />
      <label htmlFor="d-password">Repository password (stored sealed; never shown again)</label>
      <input id="d-password" type="password" autoComplete="new-password" value={f.password} onChange={set('password')} required />
      {f.kind === 's3' && (
        <>
          <label htmlFor="d-key">Access key id (empty: the server's environment)</label>
          <input id="d-key" value={f.accessKeyId} onChange={set('accessKeyId')} />
        </>
      )}
      {f.kind !== 'local' && (
        <>
          <label htmlFor="d-secret">{f.kind === 's3' ? 'Secret access key' : f.kind === 'azure' ? 'Account key' : 'Password'} (write-only)</label>
          <input id="d-secret" type="password" autoComplete="off" value={f.secret} onChange={set('secret')} />
        </>
      )}
      <label className="row">
        <input type="checkbox" checked={f.init} onChange={(e) => setF({ ...f, init: e.target.checked })} /> Create a repository there if it holds none (one that is there is connected, never overwritten)
      </label>
      {error && <div className="error" role="alert">{error}</div>}
      {done && <div role="status">{done}</div>}
      <p>
        <button className="primary" type="submit">Add and validate</button>
      </p>
    </form>
  );
}

interface App {
  name: string;
  version: string;
  components: { name: string; kind: string; source: string }[];
  hooks: Record<string, string[]>;
  license: { required: boolean; ok?: boolean; reason?: string; licensee?: string; expiresAt?: string };
}
interface Problem {
  line?: number;
  column?: number;
  path: string;
  message: string;
}

/** Applications: their components and license status; a spec editor that shows problems at their lines. */
export function Applications({ me }: { me: Me }) {
  const [list, setList] = useState<App[]>();
  const [spec, setSpec] = useState('apiVersion: strongbox/v1\nkind: Application\nmetadata: { name: myapp, version: "1.0" }\nspec:\n  components:\n    - name: data\n      files: { path: /srv/myapp/data }\n');
  const [problems, setProblems] = useState<Problem[]>([]);
  const [valid, setValid] = useState<string>();
  const [error, setError] = useState<string>();
  const load = () => get<App[]>('/api/applications').then(setList, (e: Error) => setError(e.message));
  useEffect(() => {
    void load();
  }, []);
  useEffect(() => {
    const t = setTimeout(() => {
      post<{ ok: boolean; name?: string; version?: string; problems?: Problem[] }>('/api/applications/validate', { spec }).then(
        (r) => {
          setProblems(r.problems ?? []);
          setValid(r.ok ? `valid: ${r.name} ${r.version}` : undefined);
        },
        () => undefined,
      );
    }, 300);
    return () => clearTimeout(t);
  }, [spec]);
  const add = async (replace: boolean) => {
    try {
      setError(undefined);
      await post('/api/applications', { spec, replace });
      await load();
    } catch (e) {
      setError(message(e));
    }
  };
  const lines = spec.split('\n');
  return (
    <>
      <h1>Applications</h1>
      {list && list.length === 0 && <div className="panel empty">No applications yet. Write or paste a spec below (docs/APPLICATIONS.md explains the format).</div>}
      {list && list.length > 0 && (
        <Table
          head={['Name', 'Version', 'Components', 'Hooks', 'License']}
          rows={list}
          rowKey={(a) => a.name}
          cells={(a) => [
            a.name,
            a.version,
            a.components.map((c) => `${c.name} (${c.kind})`).join(', '),
            <>
                  {Object.entries(a.hooks).map(([phase, names]) => (
                    <div key={phase}>
                      {phase}: {names.join(', ')}
                    </div>
                  ))}
                  {Object.keys(a.hooks).length === 0 && <span className="muted">none</span>}
              </>,
            !a.license.required ? '—' : a.license.ok ? `${a.license.licensee}, until ${a.license.expiresAt?.slice(0, 10)}` : <span className="gap">{a.license.reason}</span>,
          ]}
        />
      )}
      <section className="panel" aria-label="Spec editor">
        <h2>Validate or add a spec</h2>
        <label htmlFor="spec">Spec (YAML)</label>
        <textarea id="spec" rows={Math.max(10, lines.length + 1)} spellCheck={false} value={spec} onChange={(e) => setSpec(e.target.value)} aria-describedby="spec-problems" />
        <div id="spec-problems" aria-live="polite">
          {valid && <div className="muted">{valid}</div>}
          {problems.map((p, i) => (
            <div className="gap" key={i}>
              {p.line ? `line ${p.line}${p.column ? `:${p.column}` : ''}: ` : ''}
              {p.path ? `${p.path}: ` : ''}
              {p.message}
              {p.line && lines[p.line - 1] !== undefined ? <code className="muted"> {lines[p.line - 1]!.trim()}</code> : null}
            </div>
          ))}
        </div>
        {error && <div className="error" role="alert">{error}</div>}
        {can(me, 'admin') && (
          <p className="row">
            <button className="primary" disabled={!valid} onClick={() => void add(false)}>
              Add application
            </button>
            <button disabled={!valid} onClick={() => void add(true)}>
              Replace existing
            </button>
          </p>
        )}
      </section>
    </>
  );
}
