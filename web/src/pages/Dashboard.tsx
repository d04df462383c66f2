import { useEffect, useState } from 'react';
import { bytes, can, get, message, post, submitting, when, type JobRecord, type Me, type SnapshotView } from '../api.js';
import { Table } from '../components.js';
import { AddDestination } from './Setup.js';
import { CreateSnapshot, KubernetesCounts } from './Snapshots.js';

interface App {
  name: string;
  version: string;
  components: { name: string; kind: string; source: string }[];
  license: { required: boolean; ok?: boolean; reason?: string };
}
/** GET /api/verification: per application, what restore drills have proven (docs/DRILLS.md). */
interface Verification {
  app: string;
  verified: { snapshot: string; snapshotTime: string; drill: string; at: string; recoveryMs: number } | null;
  ageSeconds: number | null;
  objectiveSeconds: number | null;
  schedule: string | null;
  overdue: boolean;
  lastDrill: { id: string; status: 'passed' | 'failed'; at: string; snapshot: string } | null;
}

const age = (sec: number) => (sec < 48 * 3600 ? `${Math.round(sec / 3600)} h` : `${Math.round(sec / 86400)} days`);

/** Per application: the newest snapshot a drill proved restorable, the measured recovery time, how old that data is now — in red past the drill objective. */
function Recovery({ me, v }: { me: Me; v: Verification | undefined }) {
  const [error, setError] = useState<string>();
  const drill = submitting(setError, async () => {
    const j = await post<JobRecord>('/api/drills', { apps: [v!.app] });
    location.hash = `#/job/${j.id}`;
  });
  if (!v) return null;
  const objective = v.objectiveSeconds !== null ? ` (objective ${age(v.objectiveSeconds)}, schedule ${v.schedule})` : '';
  return (
    <div aria-label="Recovery" className="row">
      {v.verified ? (
        <span className={v.overdue ? 'gap' : ''}>
          Verified restorable: <a href={`#/snapshot/${v.verified.snapshot}`}>{v.verified.snapshot.slice(0, 8)}</a> on {when(v.verified.at)} · recovery time {(v.verified.recoveryMs / 1000).toFixed(1)} s (measured) · that data is {age(v.ageSeconds ?? 0)} old{objective}
          {v.overdue && ' — older than the objective'}
        </span>
      ) : (
        <span className="gap">Never verified: no restore drill has proven a snapshot of it restorable{objective}</span>
      )}
      {v.lastDrill?.status === 'failed' && (
        <span className="gap">
          {' '}
          · last drill failed: <a href={`#/snapshot/${v.lastDrill.snapshot}`}>{when(v.lastDrill.at)}</a>
        </span>
      )}
      {can(me, 'operator') && (
        <button type="button" onClick={(e) => void drill(e)}>
          Run restore drill
        </button>
      )}
      {error && <span className="error" role="alert">{error}</span>}
    </div>
  );
}

interface Schedule {
  name: string;
  app: string | null;
  kind: string;
  paused: boolean;
  nextRuns: string[];
  cron: string;
  description: string;
}

/** Per application: the last snapshot, the next run, and whether it is protected (a successful snapshot within its schedule's interval). */
export function Dashboard({ me }: { me: Me }) {
  const [apps, setApps] = useState<App[]>();
  const [snaps, setSnaps] = useState<SnapshotView[]>([]);
  const [schedules, setSchedules] = useState<Schedule[]>([]);
  const [running, setRunning] = useState<JobRecord[]>([]);
  const [verification, setVerification] = useState<Verification[]>([]);
  const [error, setError] = useState<string>();
  useEffect(() => {
    const load = async () => {
      try {
        const [a, s, sc, j, d] = await Promise.all([get<App[]>('/api/applications'), get<SnapshotView[]>('/api/snapshots').catch(() => []), get<Schedule[]>('/api/schedules'), get<JobRecord[]>('/api/jobs?limit=20'), get<Verification[]>('/api/verification').catch(() => [])]);
        setVerification(d);
        setApps(a);
        setSnaps(s);
        setSchedules(sc);
        setRunning(j.filter((x) => x.phase === 'running' || x.phase === 'queued'));
      } catch (e) {
        setError((e as Error).message);
      }
    };
    void load();
    const t = setInterval(() => void load(), 5000);
    return () => clearInterval(t);
  }, []);
  if (error) return <div className="error" role="alert">{error}</div>;
  if (!apps) return <p className="empty">Loading…</p>;
  return (
    <>
      <div className="row">
        <h1 className="grow">Dashboard</h1>
        <CreateSnapshot me={me} apps={apps.map((a) => a.name)} />
      </div>
      {running.length > 0 && (
        <div className="panel">
          <h2>Running now</h2>
          {running.map((j) => (
            <div key={j.id}>
              <a href={`#/job/${j.id}`}>
                {j.kind} {j.app ?? '(full)'}
              </a>{' '}
              <span className={`status ${j.phase}`}>{j.phase}</span> {bytes(j.progress.bytes)}
            </div>
          ))}
        </div>
      )}
      <Growth snaps={snaps} />
      {apps.length === 0 ? (
        <>
          <Recover me={me} />
          <div className="panel empty">No applications yet. Add one with <code>strongbox app add -f SPEC.yaml</code> (see examples/).</div>
        </>
      ) : (
        <div className="cards">
          {apps.map((a) => {
            // An application's own status in each snapshot: another application failing in the same full snapshot is not this one's.
            const mine = (s: SnapshotView) => s.applications.find((x) => x.name === a.name);
            const last = snaps.find((s) => mine(s));
            const lastStatus = last ? mine(last)!.status : undefined;
            const lastOk = snaps.find((s) => mine(s)?.status === 'completed');
            const sched = schedules.find((s) => s.kind === 'backup' && s.app === a.name && !s.paused);
            const gap = sched && (!lastOk || Date.now() - Date.parse(lastOk.time) > 2 * intervalOf(sched));
            return (
              <section className="panel" key={a.name} aria-label={`Application ${a.name}`}>
                <h2>
                  {a.name} <span className="muted">{a.version}</span>
                </h2>
                <div>Last snapshot: {last ? <><a href={`#/snapshot/${last.id}`}>{when(last.time)}</a> <span className={`status ${lastStatus}`}>{lastStatus}</span></> : <span className="muted">none yet</span>}</div>
                <Recovery me={me} v={verification.find((x) => x.app === a.name)} />
                <div>Next run: {sched?.nextRuns[0] ? `${when(sched.nextRuns[0])} (${sched.description})` : <span className="muted">no schedule</span>}</div>
                {gap && <div className="gap">Protection gap: no successful snapshot within the schedule's interval</div>}
                {a.license.required && !a.license.ok && <div className="gap">License needed: {a.license.reason}</div>}
                <div className="muted">{a.components.map((c) => `${c.name} (${c.kind})`).join(', ')}</div>
                {a.components
                  .filter((c) => c.kind === 'kubernetes')
                  .map((c) => (
                    <KubernetesSelection key={c.name} app={a.name} component={c.name} selection={c.source} snapshot={last?.id} />
                  ))}
              </section>
            );
          })}
        </div>
      )}
    </>
  );
}

/** A kubernetes component on the dashboard: what it selects, and what its last snapshot holds by kind. */
function KubernetesSelection({ app, component, selection, snapshot }: { app: string; component: string; selection: string; snapshot: string | undefined }) {
  const [info, setInfo] = useState<Record<string, string | number | boolean>>();
  useEffect(() => {
    if (!snapshot) return;
    get<{ manifest: { applications?: { name: string; components: { name: string; info?: Record<string, string | number | boolean> }[] }[] } }>(`/api/snapshots/${snapshot}`).then(
      (s) => setInfo(s.manifest.applications?.find((x) => x.name === app)?.components.find((c) => c.name === component)?.info),
      () => undefined,
    );
  }, [app, component, snapshot]);
  return (
    <div aria-label={`Kubernetes selection of ${component}`}>
      <div>
        {component}: {selection}
      </div>
      {info && <KubernetesCounts name={component} info={info} />}
    </div>
  );
}

function intervalOf(s: Schedule): number {
  const r = s.nextRuns.map((x) => Date.parse(x));
  return r.length > 1 ? r[1]! - r[0]! : 86400e3;
}

/** Repository growth: the bytes each snapshot added to the store, accumulated over time. */
function Growth({ snaps }: { snaps: SnapshotView[] }) {
  if (snaps.length < 2) return null;
  const points = [...snaps].sort((a, b) => a.time.localeCompare(b.time));
  let total = 0;
  const series = points.map((p) => ({ t: Date.parse(p.time), v: (total += p.storedBytes) }));
  const t0 = series[0]!.t;
  const t1 = Math.max(series.at(-1)!.t, t0 + 1);
  const max = Math.max(series.at(-1)!.v, 1);
  const W = 600;
  const H = 120;
  const xy = series.map((p) => `${(((p.t - t0) / (t1 - t0)) * (W - 10) + 5).toFixed(1)},${(H - 5 - (p.v / max) * (H - 20)).toFixed(1)}`).join(' ');
  return (
    <section className="panel" aria-label="Repository growth">
      <h2>Repository growth</h2>
      <svg viewBox={`0 0 ${W} ${H}`} width="100%" height={H} role="img" aria-label={`Stored data grew to ${bytes(max)} over ${points.length} snapshots`}>
        <polyline points={xy} fill="none" stroke="#1f5fbf" strokeWidth="2" />
        {series.map((p, i) => (
          <circle key={i} cx={xy.split(' ')[i]!.split(',')[0]} cy={xy.split(' ')[i]!.split(',')[1]} r="3" fill="#1f5fbf" />
        ))}
      </svg>
      <div className="muted">
        {bytes(max)} stored by {points.length} snapshots, {when(points[0]!.time)} → {when(points.at(-1)!.time)}
      </div>
    </section>
  );
}

/**
 * A fresh instance's first page: recover an instance from its backups — connect the destination
 * that holds them (an existing repository is connected, never re-initialised), then restore one
 * of its full snapshots (applications, schedules, settings, users and data come back).
 */
export function Recover({ me }: { me: Me }) {
  const [dests, setDests] = useState<{ name: string }[]>();
  const [fulls, setFulls] = useState<SnapshotView[]>([]);
  const [error, setError] = useState<string>();
  const load = async () => {
    try {
      const d = await get<{ name: string }[]>('/api/destinations');
      setDests(d);
      if (d.length) setFulls(await get<SnapshotView[]>('/api/snapshots?type=full'));
    } catch (e) {
      setError(message(e));
    }
  };
  useEffect(() => {
    void load();
  }, []);
  if (me.role !== 'admin') return null;
  return (
    <section className="panel" aria-label="Recover from a destination">
      <h2>Recover from a destination</h2>
      <p className="muted">Rebuilding an instance? Connect the destination that holds its snapshots, then restore one of its full snapshots: applications, destinations, schedules, settings, users and every byte of data come back. Starting fresh instead? Add a destination and an application.</p>
      {error && <div className="error" role="alert">{error}</div>}
      {dests && dests.length === 0 && <AddDestination onAdded={load} title="Connect the destination" />}
      {dests && dests.length > 0 && fulls.length === 0 && <p className="muted">No full snapshot in the default destination.</p>}
      {fulls.length > 0 && (
        <Table
          head={['Full snapshot', 'Time', 'Host', 'Applications', null]}
          rows={fulls}
          rowKey={(s) => s.id}
          cells={(s) => [<a href={`#/snapshot/${s.id}`}>{s.id.slice(0, 8)}</a>, when(s.time), s.host, s.applications.map((a) => a.name).join(', ') || '—', <a className="button" href={`#/restore/${s.id}`}>Recover from this snapshot</a>]}
        />
      )}
    </section>
  );
}
