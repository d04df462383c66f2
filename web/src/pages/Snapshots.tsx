import { useEffect, useState, type FormEvent } from 'react';
import { ApiError, bytes, call, can, get, post, when, type JobRecord, type Me, type SnapshotView, message, submitting } from '../api.js';
import { Choice, Field, Table } from '../components.js';

/** Start a snapshot (an application or full); the new job opens live. */
export function CreateSnapshot({ me, apps }: { me: Me; apps: string[] }) {
  const [open, setOpen] = useState(false);
  const [target, setTarget] = useState(apps[0] ?? '__full');
  const [tags, setTags] = useState('');
  const [note, setNote] = useState('');
  const [error, setError] = useState<string>();
  if (!can(me, 'operator')) return null;
  if (!open) return <button className="primary" onClick={() => setOpen(true)}>Create snapshot</button>;
  const submit = submitting(setError, async () => {
    const body = { ...(target === '__full' ? { full: true } : { apps: [target] }), tags: tags.split(',').map((t) => t.trim()).filter(Boolean), ...(note ? { note } : {}) };
    const j = await post<JobRecord>('/api/snapshots', body);
    location.hash = `#/job/${j.id}`;
  });
  return (
    <form className="panel" onSubmit={(e) => void submit(e)} aria-label="Create a snapshot">
      <label htmlFor="snap-target">What</label>
      <select id="snap-target" value={target} onChange={(e) => setTarget(e.target.value)}>
        {apps.map((a) => (
          <option key={a} value={a}>
            Application {a}
          </option>
        ))}
        <option value="__full">Full (every application and the instance state)</option>
      </select>
      <label htmlFor="snap-tags">Tags (comma-separated)</label>
      <input id="snap-tags" value={tags} onChange={(e) => setTags(e.target.value)} />
      <label htmlFor="snap-note">Note</label>
      <input id="snap-note" value={note} onChange={(e) => setNote(e.target.value)} />
      {error && <div className="error" role="alert">{error}</div>}
      <p className="row">
        <button className="primary" type="submit">Start</button>
        <button type="button" onClick={() => setOpen(false)}>Cancel</button>
      </p>
    </form>
  );
}

export function Snapshots({ me }: { me: Me }) {
  const [list, setList] = useState<SnapshotView[]>();
  const [apps, setApps] = useState<string[]>([]);
  const [filter, setFilter] = useState({ app: '', type: '', status: '', tag: '' });
  const [dates, setDates] = useState({ from: '', to: '' });
  const [error, setError] = useState<string>();
  useEffect(() => {
    get<{ name: string }[]>('/api/applications').then((a) => setApps(a.map((x) => x.name)), () => undefined);
  }, []);
  useEffect(() => {
    const q = new URLSearchParams(Object.entries(filter).filter(([, v]) => v));
    get<SnapshotView[]>(`/api/snapshots?${q}`).then(setList, (e: Error) => setError(e.message));
  }, [filter]);
  const shown = list?.filter((s) => (!dates.from || s.time.slice(0, 10) >= dates.from) && (!dates.to || s.time.slice(0, 10) <= dates.to));
  const set = (k: keyof typeof filter) => (e: { target: { value: string } }) => setFilter({ ...filter, [k]: e.target.value });
  return (
    <>
      <div className="row">
        <h1 className="grow">Snapshots</h1>
        <CreateSnapshot me={me} apps={apps} />
      </div>
      <div className="row panel" role="search">
        <div className="grow">
          <label htmlFor="f-app">Application</label>
          <select id="f-app" value={filter.app} onChange={set('app')}>
            <option value="">all</option>
            {apps.map((a) => (
              <option key={a}>{a}</option>
            ))}
          </select>
        </div>
        <Choice id="f-type" label="Type" value={filter.type} onChange={set('type')} options={[['', 'all'], 'application', 'full', 'files']} />
        <Choice id="f-status" label="Status" value={filter.status} onChange={set('status')} options={[['', 'all'], 'completed', 'partially_failed', 'failed']} />
        <Field id="f-tag" label="Tag">
          <input id="f-tag" value={filter.tag} onChange={set('tag')} />
        </Field>
        <div className="grow">
          <label htmlFor="f-from">From (date)</label>
          <input id="f-from" type="date" value={dates.from} onChange={(e) => setDates({ ...dates, from: e.target.value })} />
        </div>
        <div className="grow">
          <label htmlFor="f-to">To (date)</label>
          <input id="f-to" type="date" value={dates.to} onChange={(e) => setDates({ ...dates, to: e.target.value })} />
        </div>
      </div>
      {error && <div className="error" role="alert">{error}</div>}
      {shown && shown.length === 0 && <div className="panel empty">{list && list.length > 0 ? 'No snapshot matches these filters.' : 'No snapshots here yet. Create one with the button above, or add a schedule.'}</div>}
      {shown && shown.length > 0 && (
        <Table
          head={['Snapshot', 'Time', 'Type', 'Status', 'Restore drill', 'Applications', 'Tags', 'Size']}
          rows={shown}
          rowKey={(s) => s.id}
          cells={(s) => [
            <>
                  <a href={`#/snapshot/${s.id}`}>{s.id.slice(0, 8)}</a> {s.pinned && <span title="pinned: retention never forgets it">📌</span>}
              </>,
            when(s.time),
            s.type,
            <span className={`status ${s.status}`}>{s.status}</span>,
            s.type === 'files' ? '—' : <Verified v={s.verified} />,
            s.applications.map((a) => `${a.name} ${a.version}`).join(', ') || s.paths.join(' '),
            s.tags.join(', '),
            bytes(s.bytes),
          ]}
        />
      )}
    </>
  );
}

interface Detail extends SnapshotView {
  manifest: {
    note?: string;
    errors?: string[];
    warnings: { path?: string; message: string }[];
    applications?: { name: string; version: string; status: string; errors: string[]; components: { name: string; kind: string; status: string; bytes: number; items: number; error?: string; durationMs: number; source: string; startedAt: string; info?: Record<string, string | number | boolean> }[]; hooks: { phase: string; name: string; status: string; exitCode: number | null; durationMs: number; error?: string; stdout?: string; stderr?: string }[] }[];
  };
}

export function SnapshotDetail({ me, id }: { me: Me; id: string }) {
  const [s, setS] = useState<Detail>();
  const [log, setLog] = useState<string[]>();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const load = () => get<Detail>(`/api/snapshots/${id}`).then(setS, (e: Error) => setError(e.message));
  useEffect(() => {
    void load();
    get<{ lines: string[] }>(`/api/snapshots/${id}/logs`).then((r) => setLog(r.lines), () => setLog([]));
  }, [id]);
  const act = async (fn: () => Promise<unknown>) => {
    setBusy(true);
    setError(undefined);
    try {
      await fn();
    } catch (e) {
      setError(e instanceof ApiError ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  };
  if (error && !s) return <div className="error" role="alert">{error}</div>;
  if (!s) return <p className="empty">Loading…</p>;
  return (
    <>
      <div className="row">
        <h1 className="grow">
          Snapshot {s.id.slice(0, 8)} <span className={`status ${s.status}`}>{s.status}</span>
        </h1>
        {can(me, 'operator') && (
          <button disabled={busy} onClick={() => void act(async () => (await call(s.pinned ? 'DELETE' : 'POST', `/api/snapshots/${s.id}/pin`, {}), await load()))}>
            {s.pinned ? 'Unpin' : 'Pin'}
          </button>
        )}
        {can(me, 'operator') && (s.applications.length > 0 || s.type === 'full') && <a href={`#/restore/${s.id}`}>Restore…</a>}
        {can(me, 'operator') && (s.applications.length > 0 || s.type === 'full') && (
          <button
            disabled={busy}
            title="Restore it into throwaway targets on the server, check and time it (nothing of the application is touched)"
            onClick={() =>
              void act(async () => {
                const j = await post<JobRecord>('/api/drills', { snapshot: s.id, ...(s.destination ? { destination: s.destination } : {}) });
                location.hash = `#/job/${j.id}`;
              })
            }
          >
            Run restore drill
          </button>
        )}
        {can(me, 'admin') && <Download id={s.id} />}
        {can(me, 'admin') && (
          <button
            className="danger"
            disabled={busy || s.pinned}
            onClick={() =>
              window.confirm(`Delete snapshot ${s.id.slice(0, 8)}? Its space is reclaimed by the next maintenance.`) &&
              void act(async () => {
                await call('DELETE', `/api/snapshots/${s.id}`);
                location.hash = '#/snapshots';
              })
            }
          >
            Delete
          </button>
        )}
      </div>
      {error && <div className="error" role="alert">{error}</div>}
      <div className="panel">
        <div>Time: {when(s.time)} · host {s.host} · type {s.type} · destination {s.destination ?? 'default'}</div>
        <div>
          Size {bytes(s.bytes)}; added {bytes(s.newBytes)} ({bytes(s.storedBytes)} stored) in {(s.durationMs / 1000).toFixed(1)} s
        </div>
        {s.tags.length > 0 && <div>Tags: {s.tags.join(', ')}</div>}
        {s.note && <div>Note: {s.note}</div>}
        <div className="muted">{s.id}</div>
      </div>
      <Drills id={s.id} destination={s.destination} />
      <Changes snapshot={s} />
      <Files id={s.id} canDownload={can(me, 'admin')} />
      {(s.manifest.applications ?? []).map((a) => (
        <section key={a.name} aria-label={`Application ${a.name}`}>
          <h2>
            {a.name} {a.version} <span className={`status ${a.status}`}>{a.status}</span>
          </h2>
          <Table
            head={['Component', 'Kind', 'Status', 'Size', 'Items', 'Time', 'Source']}
            rows={a.components}
            rowKey={(c) => c.name}
            cells={(c) => [
              c.name,
              c.kind,
              <>
                    <span className={`status ${c.status}`}>{c.status}</span>
                    {c.error && <div className="gap">{c.error}</div>}
                </>,
              bytes(c.bytes),
              c.items,
              <>{(c.durationMs / 1000).toFixed(1)} s</>,
              <td className="muted">{c.source}</td>,
            ]}
          />
          {a.components
            .filter((c) => c.kind === 'kubernetes' && c.info)
            .map((c) => (
              <KubernetesCounts key={c.name} name={c.name} info={c.info!} />
            ))}
          {a.hooks.length > 0 && (
            <table aria-label="Hooks">
              <thead>
                <tr>
                  <th>Hook</th>
                  <th>Phase</th>
                  <th>Status</th>
                  <th>Exit</th>
                  <th>Output</th>
                </tr>
              </thead>
              <tbody>
                {a.hooks.map((h, i) => (
                  <tr key={i}>
                    <td>{h.name}</td>
                    <td>{h.phase}</td>
                    <td>
                      <span className={`status ${h.status === 'succeeded' ? 'completed' : 'failed'}`}>{h.status}</span> {h.error}
                    </td>
                    <td>{h.exitCode ?? '—'}</td>
                    <td>
                      <code>{[h.stdout, h.stderr].filter(Boolean).join('\n').slice(0, 400)}</code>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          {a.errors.map((e) => (
            <div className="error" key={e}>
              {e}
            </div>
          ))}
        </section>
      ))}
      <Timeline s={s} />
      {s.manifest.warnings.length > 0 && (
        <>
          <h2>Warnings</h2>
          <ul>
            {s.manifest.warnings.map((w, i) => (
              <li key={i}>
                {w.path ? `${w.path}: ` : ''}
                {w.message}
              </li>
            ))}
          </ul>
        </>
      )}
      {log && log.length > 0 && (
        <>
          <h2>Log</h2>
          <pre className="log">{log.join('\n')}</pre>
        </>
      )}
    </>
  );
}

/** A snapshot's latest restore drill: the status operators look at (docs/DRILLS.md). */
export function Verified({ v }: { v: SnapshotView['verified'] }) {
  if (!v) return <span className="muted">never verified</span>;
  if (v.status === 'passed') return <span className="status completed" title={`drill ${v.drill}`}>verified restorable on {v.at.slice(0, 10)}</span>;
  return <span className="status failed" title={`drill ${v.drill}`}>drill failed on {v.at.slice(0, 10)}</span>;
}

/** A kubernetes component's capture: objects by kind, volumes, and whether it is one consistent cut. */
export function KubernetesCounts({ name, info }: { name: string; info: Record<string, string | number | boolean> }) {
  const kinds = Object.entries(info)
    .filter(([k]) => k.startsWith('objects.'))
    .map(([k, n]) => [k.slice('objects.'.length), Number(n)] as const)
    .sort((x, y) => y[1] - x[1] || x[0].localeCompare(y[0]));
  return (
    <div className="panel" aria-label={`Kubernetes objects of ${name}`}>
      <strong>{name}</strong>: {String(info.objects ?? 0)} objects in {String(info.namespaces ?? '')}, {String(info.volumes ?? 0)} volume(s){info.consistent === false ? ' (not one consistent cut: the capture outlived the server\'s history)' : ''}
      <div className="muted">{kinds.map(([k, n]) => `${k} ${n}`).join(' · ')}</div>
    </div>
  );
}

/** An archive of the snapshot: a password, a job that writes it, then a link to fetch it. */
function Download({ id }: { id: string }) {
  const [open, setOpen] = useState(false);
  const [password, setPassword] = useState('');
  const [state, setState] = useState<{ job?: JobRecord; error?: string; busy?: boolean }>({});
  if (!open) return <button onClick={() => setOpen(true)}>Download…</button>;
  const start = async () => {
    setState({ busy: true });
    try {
      let j = await post<JobRecord>(`/api/snapshots/${id}/download`, { password });
      while (j.phase === 'queued' || j.phase === 'running') {
        await new Promise((r) => setTimeout(r, 300));
        j = await get<JobRecord>(`/api/jobs/${j.id}`);
      }
      setState(j.phase === 'completed' ? { job: j } : { error: j.errors.join('; ') || j.phase });
    } catch (e) {
      setState({ error: e instanceof ApiError ? e.message : String(e) });
    }
  };
  const r = state.job?.result as { fileName?: string; archiveBytes?: number } | undefined;
  return (
    <div className="panel" role="group" aria-label="Download an archive">
      <label htmlFor="dl-pw">Archive password (needed to upload it elsewhere; at least 8 characters)</label>
      <input id="dl-pw" type="password" autoComplete="new-password" minLength={8} value={password} onChange={(e) => setPassword(e.target.value)} />
      <p className="row">
        <button className="primary" disabled={password.length < 8 || state.busy} onClick={() => void start()}>
          {state.busy ? 'Preparing…' : 'Prepare archive'}
        </button>
        {state.job && (
          <a href={`/api/jobs/${state.job.id}/artifact`} download={r?.fileName}>
            Save {r?.fileName} ({bytes(r?.archiveBytes ?? 0)})
          </a>
        )}
      </p>
      {state.error && <div className="error" role="alert">{state.error}</div>}
    </div>
  );
}

/** When each component ran within the snapshot, as bars on one time axis. */
function Timeline({ s }: { s: Detail }) {
  const items = (s.manifest.applications ?? []).flatMap((a) => a.components.filter((c) => c.startedAt).map((c) => ({ label: `${a.name}/${c.name}`, start: Date.parse(c.startedAt), ms: c.durationMs, status: c.status })));
  if (items.length === 0) return null;
  const t0 = Math.min(Date.parse(s.time), ...items.map((i) => i.start));
  const total = Math.max(s.durationMs, ...items.map((i) => i.start - t0 + i.ms), 1);
  return (
    <section aria-label="Timeline">
      <h2>Timeline</h2>
      <Table
        rows={items}
        rowKey={(i) => i.label}
        cells={(i) => [
          i.label,
          <td className="grow" style={{ width: '70%' }}>
                <div className="bar" role="img" aria-label={`${i.label}: from +${((i.start - t0) / 1000).toFixed(1)} s for ${(i.ms / 1000).toFixed(1)} s`}>
                  <div className={`span ${i.status}`} style={{ marginLeft: `${((i.start - t0) / total) * 100}%`, width: `${Math.max(1, (i.ms / total) * 100)}%` }} />
                </div>
              </td>,
          <td className="muted">{(i.ms / 1000).toFixed(1)} s</td>,
        ]}
      />
    </section>
  );
}

interface FileEntry {
  path: string;
  type: string;
  size?: number;
  mtime: string;
  target?: string;
}

/** The snapshot's files, a directory at a time (an application snapshot holds /APP/COMPONENT/…), each file downloadable. */
export function Files({ id, canDownload }: { id: string; canDownload: boolean }) {
  const [dir, setDir] = useState('/');
  const [entries, setEntries] = useState<FileEntry[]>();
  const [error, setError] = useState<string>();
  useEffect(() => {
    setEntries(undefined);
    get<{ entries: FileEntry[] }>(`/api/snapshots/${id}/files?path=${encodeURIComponent(dir)}`).then(
      (r) => setEntries(r.entries),
      (e: unknown) => setError(message(e)),
    );
  }, [id, dir]);
  const up = dir === '/' ? undefined : dir.split('/').slice(0, -1).join('/') || '/';
  const name = (p: string) => p.split('/').pop() || p;
  return (
    <section aria-label="Files">
      <h2>Files</h2>
      <div className="row">
        <span>
          In <code>{dir}</code>
        </span>
        {up && <button onClick={() => setDir(up)}>Up</button>}
      </div>
      {error && <div className="error" role="alert">{error}</div>}
      {entries && (
        <Table
          head={['Name', 'Type', 'Size', 'Modified', null]}
          rows={entries}
          rowKey={(e) => e.path}
          cells={(e) => [
            e.type === 'dir' ? <button className="link" onClick={() => setDir(e.path)}>{name(e.path)}/</button> : <>{name(e.path)}{e.target !== undefined ? ` → ${e.target}` : ''}</>,
            e.type,
            e.size !== undefined ? bytes(e.size) : '',
            when(e.mtime),
            canDownload && e.type === 'file' ? <a href={`/api/snapshots/${id}/file?path=${encodeURIComponent(e.path)}`} download={name(e.path)}>Download</a> : '',
          ]}
        />
      )}
    </section>
  );
}

/** What changed since the previous snapshot of the same applications (or paths). */
export function Changes({ snapshot }: { snapshot: SnapshotView }) {
  const [d, setD] = useState<{ previous: string; lines: { change: string; path: string }[]; added: number; removed: number; modified: number } | null>();
  useEffect(() => {
    const key = (s: SnapshotView) => `${s.type}|${s.applications.map((a) => a.name).sort().join(',')}|${s.paths.join(',')}`;
    void (async () => {
      const all = await get<SnapshotView[]>('/api/snapshots');
      const prev = all.filter((s) => key(s) === key(snapshot) && s.time < snapshot.time).sort((a, b) => b.time.localeCompare(a.time))[0];
      if (!prev) return setD(null);
      const r = await get<{ lines: { change: string; path: string }[]; added: number; removed: number; modified: number }>(`/api/snapshots/${prev.id}/diff/${snapshot.id}`);
      setD({ previous: prev.id, ...r });
    })().catch(() => setD(null));
  }, [snapshot.id]);
  if (!d) return null;
  return (
    <section aria-label="Changes">
      <h2>
        Changes since <a href={`#/snapshot/${d.previous}`}>{d.previous.slice(0, 8)}</a>
      </h2>
      <p>
        {d.added} added, {d.removed} removed, {d.modified} modified
      </p>
      <ul className="diff">
        {d.lines.slice(0, 200).map((l) => (
          <li key={`${l.change}${l.path}`}>
            <code>{l.change}</code> {l.path}
          </li>
        ))}
      </ul>
      {d.lines.length > 200 && <p className="muted">… and {d.lines.length - 200} more ("strongbox snapshot diff" lists them all).</p>}
    </section>
  );
}

interface DrillRecordView {
  id: string;
  status: 'passed' | 'failed';
  startedAt: string;
  recoveryMs: number;
  recoveryPointSeconds: number;
  components: { app: string; component: string; kind: string; status: string; reason?: string; restoreMs: number; checks: { name: string; ok: boolean; expected?: string; actual?: string }[] }[];
}

/** The snapshot's restore drills: per component its result, its restore time and each check (docs/DRILLS.md). */
function Drills({ id, destination }: { id: string; destination: string | null }) {
  const [list, setList] = useState<DrillRecordView[]>();
  useEffect(() => {
    get<DrillRecordView[]>(`/api/drills?snapshot=${encodeURIComponent(id)}${destination ? `&destination=${encodeURIComponent(destination)}` : ''}`).then(setList, () => setList([]));
  }, [id, destination]);
  if (!list || list.length === 0) return null;
  return (
    <section className="panel" aria-label="Restore drills">
      <h2>Restore drills</h2>
      {list.map((d) => (
        <div key={d.id}>
          <div>
            <span className={`status ${d.status === 'passed' ? 'completed' : 'failed'}`}>{d.status}</span> {when(d.startedAt)} · recovery time {(d.recoveryMs / 1000).toFixed(1)} s (measured) · drill {d.id}
          </div>
          <ul>
            {d.components.map((c) => (
              <li key={`${c.app}/${c.component}`}>
                {c.app}/{c.component} ({c.kind}): <span className={`status ${c.status === 'passed' ? 'completed' : c.status}`}>{c.status}</span> in {(c.restoreMs / 1000).toFixed(1)} s{c.reason ? ` — ${c.reason}` : ''}
                {c.checks.length > 0 && (
                  <ul>
                    {c.checks.map((k, i) => (
                      <li key={i} className={k.ok ? '' : 'gap'}>
                        {k.ok ? 'ok' : 'FAILED'}: {k.name}
                        {k.expected !== undefined || k.actual !== undefined ? ` (expected ${k.expected ?? '-'}, found ${k.actual ?? '-'})` : ''}
                      </li>
                    ))}
                  </ul>
                )}
              </li>
            ))}
          </ul>
        </div>
      ))}
    </section>
  );
}
