import { useEffect, useRef, useState } from 'react';
import { ApiError, bytes, can, get, post, when, type JobRecord, type Me } from '../api.js';

export function Jobs() {
  const [list, setList] = useState<JobRecord[]>();
  useEffect(() => {
    const load = () => get<JobRecord[]>('/api/jobs?limit=50').then(setList, () => undefined);
    void load();
    const t = setInterval(() => void load(), 3000);
    return () => clearInterval(t);
  }, []);
  if (!list) return <p className="empty">Loading…</p>;
  return (
    <>
      <h1>Jobs</h1>
      {list.length === 0 ? (
        <div className="panel empty">No jobs yet: snapshots, restores and maintenance appear here as they run.</div>
      ) : (
        <table>
          <thead>
            <tr>
              <th>Job</th>
              <th>Kind</th>
              <th>Application</th>
              <th>Phase</th>
              <th>Created</th>
              <th>By</th>
              <th>Bytes</th>
            </tr>
          </thead>
          <tbody>
            {list.map((j) => (
              <tr key={j.id}>
                <td>
                  <a href={`#/job/${j.id}`}>{j.id.slice(0, 8)}</a>
                </td>
                <td>{j.kind}</td>
                <td>{j.app ?? '—'}</td>
                <td>
                  <span className={`status ${j.phase}`}>{j.phase}</span>
                </td>
                <td>{when(j.createdAt)}</td>
                <td>{j.requestedBy}</td>
                <td>{bytes(j.progress.bytes)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

/** One job, live: its record, progress per component and log lines from the server's event stream. */
export function JobPage({ me, id }: { me: Me; id: string }) {
  const [job, setJob] = useState<JobRecord>();
  const [lines, setLines] = useState<{ seq: number; time: string; line: string }[]>([]);
  const [error, setError] = useState<string>();
  const logRef = useRef<HTMLPreElement>(null);
  useEffect(() => {
    setLines([]);
    const es = new EventSource(`/api/jobs/${id}/events`);
    es.addEventListener('job', (e) => setJob(JSON.parse((e as MessageEvent).data as string) as JobRecord));
    es.addEventListener('progress', (e) => setJob((j) => (j ? { ...j, progress: JSON.parse((e as MessageEvent).data as string) as JobRecord['progress'] } : j)));
    es.addEventListener('log', (e) => {
      const l = JSON.parse((e as MessageEvent).data as string) as { seq: number; time: string; line: string };
      setLines((x) => (x.some((y) => y.seq === l.seq) ? x : [...x, l]));
    });
    es.addEventListener('end', () => es.close());
    es.onerror = () => {
      if (es.readyState === EventSource.CLOSED) return;
    };
    return () => es.close();
  }, [id]);
  useEffect(() => {
    logRef.current?.scrollTo(0, logRef.current.scrollHeight);
  }, [lines]);
  if (!job) return <p className="empty">Loading…</p>;
  const live = job.phase === 'running' || job.phase === 'queued';
  const cancel = async () => {
    try {
      await post(`/api/jobs/${job.id}/cancel`);
    } catch (e) {
      setError(e instanceof ApiError ? e.message : String(e));
    }
  };
  const snapshot = (job.result as { snapshot?: string } | null)?.snapshot;
  return (
    <>
      <div className="row">
        <h1 className="grow">
          {job.kind} {job.app ?? ''} <span className={`status ${job.phase}`} role="status" aria-live="polite">{job.phase}</span>
        </h1>
        {live && can(me, 'operator') && (
          <button className="danger" onClick={() => void cancel()}>
            Cancel
          </button>
        )}
      </div>
      {error && <div className="error" role="alert">{error}</div>}
      <div className="panel">
        <div>
          Job {job.id} · asked by {job.requestedBy} · {when(job.createdAt)}
        </div>
        <div>
          {bytes(job.progress.bytes)} in {job.progress.items} item(s){job.progress.rate ? ` · ${bytes(job.progress.rate)}/s` : ''}
          {job.progress.etaSeconds !== undefined ? ` · ETA ${job.progress.etaSeconds} s` : ''}
          {job.progress.current ? ` · at ${job.progress.current}` : ''}
        </div>
        {snapshot && (
          <div>
            Snapshot: <a href={`#/snapshot/${snapshot}`}>{snapshot.slice(0, 8)}</a>
          </div>
        )}
      </div>
      {job.progress.components.length > 0 && (
        <table aria-label="Components">
          <thead>
            <tr>
              <th>Component</th>
              <th>Kind</th>
              <th>State</th>
              <th>Bytes</th>
              <th>Items</th>
              <th>Rate</th>
            </tr>
          </thead>
          <tbody>
            {job.progress.components.map((c) => (
              <tr key={`${c.app}/${c.component}`}>
                <td>
                  {c.app}/{c.component}
                </td>
                <td>{c.kind}</td>
                <td>
                  <span className={`status ${c.state}`}>{c.state}</span>
                  {c.error && <div className="gap">{c.error}</div>}
                </td>
                <td>{bytes(c.bytes)}</td>
                <td>{c.items}</td>
                <td>{c.rate ? `${bytes(c.rate)}/s` : '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {job.errors.map((e) => (
        <div className="error" key={e}>
          {e}
        </div>
      ))}
      <h2>Log</h2>
      <pre className="log" ref={logRef} aria-label="Job log">
        {lines.map((l) => `${l.time.slice(11, 19)} ${l.line}`).join('\n')}
      </pre>
    </>
  );
}
