import { useEffect, useRef, useState } from 'react';
import { ApiError, bytes, can, get, post, when, type JobRecord, type Me } from '../api.js';
import { Table } from '../components.js';

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
        <Table
          head={['Job', 'Kind', 'Application', 'Phase', 'Created', 'By', 'Bytes']}
          rows={list}
          rowKey={(j) => j.id}
          cells={(j) => [
            <a href={`#/job/${j.id}`}>{j.id.slice(0, 8)}</a>,
            j.kind,
            j.app ?? '—',
            <span className={`status ${j.phase}`}>{j.phase}</span>,
            when(j.createdAt),
            j.requestedBy,
            bytes(j.progress.bytes),
          ]}
        />
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
        <Table
          label="Components"
          head={['Component', 'Kind', 'State', 'Bytes', 'Items', 'Rate']}
          rows={job.progress.components}
          rowKey={(c) => `${c.app}/${c.component}`}
          cells={(c) => [
            <>{c.app}/{c.component}</>,
            c.kind,
            <>
                  <span className={`status ${c.state}`}>{c.state}</span>
                  {c.error && <div className="gap">{c.error}</div>}
              </>,
            bytes(c.bytes),
            c.items,
            c.rate ? `${bytes(c.rate)}/s` : '—',
          ]}
        />
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
