import { useEffect, useState, type FormEvent } from 'react';
import { ApiError, call, can, get, post, when, type Me, message, submitting } from '../api.js';
import { Table, Field } from '../components.js';

interface RetentionPreview {
  keepsEverything: boolean;
  decisions: { id: string; time: string; keep: boolean; reasons: string[] }[];
}

interface Schedule {
  id: string;
  name: string;
  kind: string;
  app: string | null;
  cron: string;
  timezone: string;
  paused: boolean;
  description: string;
  nextRuns: string[];
  retention: Record<string, string | number>;
  lastRunAt: string | null;
  lastOutcome: string | null;
  skipped: number;
}

export function Schedules({ me }: { me: Me }) {
  const [list, setList] = useState<Schedule[]>();
  const [error, setError] = useState<string>();
  const [preview, setPreview] = useState<RetentionPreview & { name: string }>();
  const load = () => get<Schedule[]>('/api/schedules').then(setList, (e: Error) => setError(e.message));
  useEffect(() => {
    void load();
  }, []);
  const act = async (fn: () => Promise<unknown>) => {
    try {
      setError(undefined);
      await fn();
      await load();
    } catch (e) {
      setError(e instanceof ApiError ? e.message : String(e));
    }
  };
  return (
    <>
      <h1>Schedules</h1>
      {error && <div className="error" role="alert">{error}</div>}
      {list && list.length === 0 && <div className="panel empty">No schedules yet. Add one below: an application's snapshots every night, with what to keep.</div>}
      {list && list.length > 0 && (
        <Table
          head={['Name', 'What', 'When', 'Next run', 'Retention', 'Last run', null]}
          rows={list}
          rowKey={(s) => s.id}
          cells={(s) => [
            s.name,
            s.kind === 'maintenance' ? 'maintenance' : (s.app ?? 'full'),
            s.description,
            s.paused ? <span className="status canceled">paused</span> : when(s.nextRuns[0]),
            Object.entries(s.retention).map(([k, v]) => `${k} ${v}`).join(', ') || 'keep all',
            <>
                  {when(s.lastRunAt)} {s.lastOutcome ? <span className="muted">{s.lastOutcome}</span> : null}
                  {s.skipped ? <div className="muted">{s.skipped} skipped</div> : null}
              </>,
            <>
                  {can(me, 'operator') && (
                    <div className="row">
                      <button onClick={() => void act(() => post(`/api/schedules/${s.name}/${s.paused ? 'resume' : 'pause'}`))}>{s.paused ? 'Resume' : 'Pause'}</button>
                      {s.kind === 'backup' && <button onClick={() => void get<RetentionPreview>(`/api/schedules/${s.name}/retention`).then((r) => setPreview({ name: s.name, ...r }), (e: Error) => setError(e.message))}>Preview retention</button>}
                      <button onClick={() => void act(async () => { const j = await post<{ id: string }>(`/api/schedules/${s.name}/run`); location.hash = `#/job/${j.id}`; })}>Run now</button>
                      <button className="danger" onClick={() => window.confirm(`Remove schedule ${s.name}? Its snapshots stay.`) && void act(() => call('DELETE', `/api/schedules/${s.name}`))}>
                        Remove
                      </button>
                    </div>
                  )}
              </>,
          ]}
        />
      )}
      {preview && (
        <section className="panel" aria-label={`Retention of ${preview.name}`}>
          <h2>Retention of {preview.name} now (a dry run: nothing is deleted)</h2>
          {preview.keepsEverything ? (
            <p>No retention rules: every snapshot is kept.</p>
          ) : preview.decisions.length === 0 ? (
            <p>This schedule has made no snapshots yet. Its rules apply only to the snapshots it makes: manual snapshots and other schedules&apos; are never touched.</p>
          ) : (
            <ul>
              {preview.decisions.map((d) => (
                <li key={d.id}>
                  {d.id.slice(0, 8)} {when(d.time)}: <strong>{d.keep ? 'keep' : 'forget'}</strong> {d.reasons.join(', ')}
                </li>
              ))}
            </ul>
          )}
        </section>
      )}
      {can(me, 'operator') && <AddSchedule onAdded={load} />}
    </>
  );
}

function AddSchedule({ onAdded }: { onAdded: () => Promise<unknown> }) {
  const [apps, setApps] = useState<string[]>([]);
  const [form, setForm] = useState({ name: '', target: '', cron: 'daily', timezone: Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC', keepLast: '', keepHourly: '', keepDaily: '7', keepWeekly: '4', keepMonthly: '', keepYearly: '', ttl: '' });
  const [preview, setPreview] = useState<{ description: string; nextRuns: string[] } | { error: string }>();
  const [error, setError] = useState<string>();
  useEffect(() => {
    get<{ name: string }[]>('/api/applications').then((a) => {
      setApps(a.map((x) => x.name));
      setForm((f) => ({ ...f, target: f.target || a[0]?.name || '__full' }));
    }, () => undefined);
  }, []);
  useEffect(() => {
    const t = setTimeout(() => {
      post<{ description: string; nextRuns: string[] }>('/api/schedules/preview', { cron: form.cron, timezone: form.timezone }).then(setPreview, (e: Error) => setPreview({ error: e.message }));
    }, 250);
    return () => clearTimeout(t);
  }, [form.cron, form.timezone]);
  const set = (k: keyof typeof form) => (e: { target: { value: string } }) => setForm({ ...form, [k]: e.target.value });
  const submit = submitting(setError, async () => {
    const n = (v: string) => (v ? Number(v) : undefined);
    const retention = Object.fromEntries(Object.entries({ keepLast: n(form.keepLast), keepHourly: n(form.keepHourly), keepDaily: n(form.keepDaily), keepWeekly: n(form.keepWeekly), keepMonthly: n(form.keepMonthly), keepYearly: n(form.keepYearly), ttl: form.ttl || undefined }).filter(([, v]) => v !== undefined));
    const what = form.target === '__maintenance' ? { kind: 'maintenance', maintenance: { readDataPercent: 10, prune: true } } : form.target === '__full' ? {} : { app: form.target };
    await post('/api/schedules', { name: form.name, ...what, cron: form.cron, timezone: form.timezone, ...(form.target === '__maintenance' ? {} : { retention }) });
    setError(undefined);
    setForm({ ...form, name: '' });
    await onAdded();
  });
  return (
    <form className="panel" onSubmit={(e) => void submit(e)} aria-label="Add a schedule">
      <h2>Add a schedule</h2>
      <div className="row">
        <div className="grow">
          <label htmlFor="s-name">Name</label>
          <input id="s-name" value={form.name} onChange={set('name')} required placeholder="notes-nightly" />
        </div>
        <div className="grow">
          <label htmlFor="s-target">What</label>
          <select id="s-target" value={form.target} onChange={set('target')}>
            {apps.map((a) => (
              <option key={a} value={a}>
                Application {a}
              </option>
            ))}
            <option value="__full">Full snapshots</option>
            <option value="__maintenance">Maintenance (check + prune)</option>
          </select>
        </div>
        <div className="grow">
          <label htmlFor="s-cron">When (hourly, daily, weekly or cron)</label>
          <input id="s-cron" value={form.cron} onChange={set('cron')} required />
        </div>
        <div className="grow">
          <label htmlFor="s-tz">Time zone</label>
          <input id="s-tz" value={form.timezone} onChange={set('timezone')} required />
        </div>
      </div>
      <div aria-live="polite" className="muted">
        {preview && 'error' in preview ? <span className="gap">{preview.error}</span> : preview ? <>{preview.description}; next: {preview.nextRuns.map(when).join(' · ')}</> : null}
      </div>
      <div className="row">
        {(
          [
            ['s-last', 'Keep last', 'keepLast'],
            ['s-hourly', 'Keep hourly', 'keepHourly'],
            ['s-daily', 'Keep daily', 'keepDaily'],
            ['s-weekly', 'Keep weekly', 'keepWeekly'],
            ['s-monthly', 'Keep monthly', 'keepMonthly'],
            ['s-yearly', 'Keep yearly', 'keepYearly'],
          ] as const
        ).map(([id, label, k]) => (
          <Field key={id} id={id} label={label}>
            <input id={id} inputMode="numeric" value={form[k]} onChange={set(k)} />
          </Field>
        ))}
        <Field id="s-ttl" label="Forget after (e.g. 90d)">
          <input id="s-ttl" value={form.ttl} onChange={set('ttl')} />
        </Field>
      </div>
      {error && <div className="error" role="alert">{error}</div>}
      <p>
        <button className="primary" type="submit">Add schedule</button>
      </p>
    </form>
  );
}
