import { useEffect, useState, type FormEvent } from 'react';
import { ApiError, call, post, get, type JobRecord } from '../api.js';

interface Notifications {
  webhooks: { url: string; events: string[]; secret?: string }[];
  smtp?: { host: string; port: number; from: string; to: string[]; events: string[] };
}
interface Security {
  operatorsMayRestore: boolean;
  operatorsMayDownload: boolean;
}

const EVENTS = ['failure', 'partial', 'recovery', 'success'];
const msg = (e: unknown) => (e instanceof ApiError ? e.message : String(e));

/** Settings (admin): notifications, who may restore and download, maintenance now. */
export function Settings() {
  const [n, setN] = useState<Notifications>();
  const [sec, setSec] = useState<Security>();
  const [saved, setSaved] = useState<string>();
  const [error, setError] = useState<string>();
  const [job, setJob] = useState<JobRecord>();
  useEffect(() => {
    get<Notifications>('/api/settings/notifications').then(setN, (e: unknown) => setError(msg(e)));
    get<Security>('/api/settings/security').then(setSec, (e: unknown) => setError(msg(e)));
  }, []);
  if (!n || !sec) return error ? <div className="error" role="alert">{error}</div> : <p className="empty">Loading…</p>;
  const save = async (e: FormEvent) => {
    e.preventDefault();
    setError(undefined);
    setSaved(undefined);
    try {
      const webhooks = n.webhooks.filter((w) => w.url.trim()).map((w) => ({ url: w.url.trim(), events: w.events, ...(w.secret ? { secret: w.secret } : {}) }));
      setN(await call<Notifications>('PUT', '/api/settings/notifications', { webhooks, ...(n.smtp?.host ? { smtp: n.smtp } : {}) }));
      setSec(await call<Security>('PUT', '/api/settings/security', sec));
      setSaved('Saved.');
    } catch (err) {
      setError(msg(err));
    }
  };
  const hook = (i: number, patch: Partial<Notifications['webhooks'][number]>) => setN({ ...n, webhooks: n.webhooks.map((w, j) => (j === i ? { ...w, ...patch } : w)) });
  const maintenance = async () => {
    try {
      let j = await post<JobRecord>('/api/maintenance', { readDataPercent: 10, prune: true });
      setJob(j);
      while (j.phase === 'queued' || j.phase === 'running') {
        await new Promise((r) => setTimeout(r, 500));
        j = await get<JobRecord>(`/api/jobs/${j.id}`);
      }
      setJob(j);
    } catch (err) {
      setError(msg(err));
    }
  };
  const reclaimed = (job?.result as { prune?: { reclaimedBytes: number } } | undefined)?.prune?.reclaimedBytes;
  return (
    <form onSubmit={(e) => void save(e)} aria-label="Settings">
      <h1>Settings</h1>
      <section className="panel" aria-label="Webhooks">
        <h2>Webhooks</h2>
        <p className="muted">A JSON POST on each event, signed with the secret (X-Strongbox-Signature: sha256=HMAC). Secrets are write-only: *** keeps the stored one.</p>
        {n.webhooks.map((w, i) => (
          <div className="row" key={i}>
            <div className="grow">
              <label htmlFor={`wh-url-${i}`}>Webhook URL</label>
              <input id={`wh-url-${i}`} type="url" value={w.url} onChange={(e) => hook(i, { url: e.target.value })} />
            </div>
            <div>
              <label htmlFor={`wh-secret-${i}`}>Secret</label>
              <input id={`wh-secret-${i}`} type="password" autoComplete="off" value={w.secret ?? ''} onChange={(e) => hook(i, { secret: e.target.value })} />
            </div>
            <fieldset>
              <legend>Events</legend>
              {EVENTS.map((ev) => (
                <label key={ev} className="row">
                  <input type="checkbox" checked={w.events.includes(ev)} onChange={(e) => hook(i, { events: e.target.checked ? [...w.events, ev] : w.events.filter((x) => x !== ev) })} /> {ev}
                </label>
              ))}
            </fieldset>
            <button type="button" className="danger" onClick={() => setN({ ...n, webhooks: n.webhooks.filter((_, j) => j !== i) })}>
              Remove
            </button>
          </div>
        ))}
        <button type="button" onClick={() => setN({ ...n, webhooks: [...n.webhooks, { url: '', events: ['failure', 'partial', 'recovery'] }] })}>
          Add a webhook
        </button>
      </section>
      <section className="panel" aria-label="E-mail">
        <h2>E-mail (through an SMTP relay)</h2>
        <div className="row">
          <div className="grow">
            <label htmlFor="smtp-host">Relay host (empty: no e-mail)</label>
            <input id="smtp-host" value={n.smtp?.host ?? ''} onChange={(e) => setN({ ...n, smtp: { port: 25, from: '', to: [], events: ['failure', 'partial', 'recovery'], ...n.smtp, host: e.target.value } })} />
          </div>
          <div>
            <label htmlFor="smtp-port">Port</label>
            <input id="smtp-port" inputMode="numeric" value={n.smtp?.port ?? 25} onChange={(e) => n.smtp && setN({ ...n, smtp: { ...n.smtp, port: Number(e.target.value) || 25 } })} />
          </div>
          <div className="grow">
            <label htmlFor="smtp-from">From</label>
            <input id="smtp-from" type="email" value={n.smtp?.from ?? ''} onChange={(e) => n.smtp && setN({ ...n, smtp: { ...n.smtp, from: e.target.value } })} />
          </div>
          <div className="grow">
            <label htmlFor="smtp-to">To (comma-separated)</label>
            <input id="smtp-to" value={(n.smtp?.to ?? []).join(', ')} onChange={(e) => n.smtp && setN({ ...n, smtp: { ...n.smtp, to: e.target.value.split(',').map((x) => x.trim()).filter(Boolean) } })} />
          </div>
        </div>
      </section>
      <section className="panel" aria-label="Security">
        <h2>Who may restore and download</h2>
        <label className="row">
          <input type="checkbox" checked={sec.operatorsMayRestore} onChange={(e) => setSec({ ...sec, operatorsMayRestore: e.target.checked })} /> Operators may restore (admins always may)
        </label>
        <label className="row">
          <input type="checkbox" checked={sec.operatorsMayDownload} onChange={(e) => setSec({ ...sec, operatorsMayDownload: e.target.checked })} /> Operators may download archives
        </label>
      </section>
      {error && <div className="error" role="alert">{error}</div>}
      {saved && <div role="status">{saved}</div>}
      <p>
        <button className="primary" type="submit">Save settings</button>
      </p>
      <section className="panel" aria-label="Maintenance">
        <h2>Maintenance</h2>
        <p className="muted">Check the default destination (reading back 10 % of the data), then prune what no snapshot needs. Schedules can do this weekly.</p>
        <button type="button" onClick={() => void maintenance()}>Run maintenance now</button>
        {job && (
          <div role="status">
            Maintenance <span className={`status ${job.phase}`}>{job.phase}</span>
            {reclaimed !== undefined && ` — reclaimed ${reclaimed} bytes`}
          </div>
        )}
      </section>
    </form>
  );
}
