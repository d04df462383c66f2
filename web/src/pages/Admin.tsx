import { useEffect, useState, type FormEvent } from 'react';
import { ApiError, call, get, post, when, type Me } from '../api.js';
import { Table } from '../components.js';

interface User {
  name: string;
  role: string;
  mustChangePassword: boolean;
  createdAt: string;
}
interface Token {
  id: string;
  name: string;
  user: string;
  role: string;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
  expiresAt: string | null;
}
interface AuditEntry {
  id: number;
  time: string;
  actor: string;
  action: string;
  target: string | null;
  ip: string | null;
  outcome: string;
}

const msg = (e: unknown) => (e instanceof ApiError ? e.message : String(e));

/** Users (admin) and API tokens (everyone's own; an admin sees all). A new token is shown once. */
export function Users({ me }: { me: Me }) {
  const [users, setUsers] = useState<User[]>([]);
  const [tokens, setTokens] = useState<Token[]>([]);
  const [nu, setNu] = useState({ name: '', role: 'viewer', password: '' });
  const [tn, setTn] = useState({ name: '', role: me.role as string });
  const [fresh, setFresh] = useState<string>();
  const [error, setError] = useState<string>();
  const load = async () => {
    if (me.role === 'admin') setUsers(await get<User[]>('/api/users'));
    setTokens(await get<Token[]>('/api/tokens'));
  };
  useEffect(() => {
    load().catch((e: unknown) => setError(msg(e)));
  }, []);
  const act = (fn: () => Promise<unknown>) => async (e?: FormEvent) => {
    e?.preventDefault();
    setError(undefined);
    try {
      await fn();
      await load();
    } catch (err) {
      setError(msg(err));
    }
  };
  return (
    <>
      <h1>Users and tokens</h1>
      {error && <div className="error" role="alert">{error}</div>}
      {me.role === 'admin' && (
        <>
          <Table
            label="Users"
            head={['User', 'Role', 'Since', null]}
            rows={users}
            rowKey={(u) => u.name}
            cells={(u) => [
              <>{u.name} {u.mustChangePassword && <span className="muted">(must choose a password)</span>}</>,
              <>
                    <select aria-label={`Role of ${u.name}`} value={u.role} onChange={(e) => void act(() => call('PATCH', `/api/users/${u.name}`, { role: e.target.value }))()}>
                      <option>admin</option>
                      <option>operator</option>
                      <option>viewer</option>
                    </select>
                </>,
              when(u.createdAt),
              u.name !== me.user && <button className="danger" onClick={() => window.confirm(`Remove ${u.name}? Their sessions and tokens end.`) && void act(() => call('DELETE', `/api/users/${u.name}`))()}>Remove</button>,
            ]}
          />
          <form className="panel row" onSubmit={(e) => void act(async () => { await post('/api/users', { ...nu, mustChangePassword: true }); setNu({ name: '', role: 'viewer', password: '' }); })(e)} aria-label="Add a user">
            <div className="grow">
              <label htmlFor="u-name">New user</label>
              <input id="u-name" value={nu.name} onChange={(e) => setNu({ ...nu, name: e.target.value })} required />
            </div>
            <div>
              <label htmlFor="u-role">Role</label>
              <select id="u-role" value={nu.role} onChange={(e) => setNu({ ...nu, role: e.target.value })}>
                <option>viewer</option>
                <option>operator</option>
                <option>admin</option>
              </select>
            </div>
            <div className="grow">
              <label htmlFor="u-pw">One-time password (they choose their own at first sign-in)</label>
              <input id="u-pw" type="password" autoComplete="new-password" minLength={10} value={nu.password} onChange={(e) => setNu({ ...nu, password: e.target.value })} required />
            </div>
            <button className="primary" type="submit">Add user</button>
          </form>
        </>
      )}
      <h2>API tokens</h2>
      <Table
        label="Tokens"
        head={['Token', 'User', 'Role', 'Created', 'Last used', null]}
        rows={tokens}
        rowKey={(t) => t.id}
        cells={(t) => [
          <>
                {t.name} <span className="muted">{t.id}</span>
            </>,
          t.user,
          t.role,
          when(t.createdAt),
          when(t.lastUsedAt),
          t.revokedAt ? <span className="status canceled">revoked</span> : <button className="danger" onClick={() => void act(() => call('DELETE', `/api/tokens/${t.id}`))()}>Revoke</button>,
        ]}
      />
      <form className="panel row" onSubmit={(e) => void act(async () => { const r = await post<{ token: string }>('/api/tokens', { name: tn.name, role: tn.role }); setFresh(r.token); setTn({ ...tn, name: '' }); })(e)} aria-label="Create a token">
        <div className="grow">
          <label htmlFor="t-name">New token for scripts</label>
          <input id="t-name" value={tn.name} onChange={(e) => setTn({ ...tn, name: e.target.value })} required />
        </div>
        <div>
          <label htmlFor="t-role">Role</label>
          <select id="t-role" value={tn.role} onChange={(e) => setTn({ ...tn, role: e.target.value })}>
            {['viewer', 'operator', 'admin'].slice(0, ['viewer', 'operator', 'admin'].indexOf(me.role) + 1).map((r) => (
              <option key={r}>{r}</option>
            ))}
          </select>
        </div>
        <button className="primary" type="submit">Create token</button>
      </form>
      {fresh && (
        <div className="panel" role="status">
          Copy the token now; it is not shown again: <code>{fresh}</code>
        </div>
      )}
    </>
  );
}

export function Audit() {
  const [list, setList] = useState<AuditEntry[]>();
  const [f, setF] = useState({ actor: '', action: '' });
  const [error, setError] = useState<string>();
  useEffect(() => {
    const q = new URLSearchParams(Object.entries(f).filter(([, v]) => v));
    get<AuditEntry[]>(`/api/audit?${q}`).then(setList, (e: Error) => setError(e.message));
  }, [f]);
  return (
    <>
      <h1>Audit log</h1>
      <div className="row panel" role="search">
        <div className="grow">
          <label htmlFor="a-actor">Actor</label>
          <input id="a-actor" value={f.actor} onChange={(e) => setF({ ...f, actor: e.target.value })} />
        </div>
        <div className="grow">
          <label htmlFor="a-action">Action starts with</label>
          <input id="a-action" value={f.action} onChange={(e) => setF({ ...f, action: e.target.value })} placeholder="auth., snapshot., user." />
        </div>
      </div>
      {error && <div className="error" role="alert">{error}</div>}
      {list && (
        <Table
          head={['Time', 'Actor', 'Action', 'Target', 'From', 'Outcome']}
          rows={list}
          rowKey={(e) => e.id}
          cells={(e) => [
            when(e.time),
            e.actor,
            e.action,
            e.target ?? '—',
            e.ip ?? '—',
            <span className={`status ${e.outcome === 'ok' ? 'completed' : 'failed'}`}>{e.outcome}</span>,
          ]}
        />
      )}
    </>
  );
}
