import { useEffect, useState } from 'react';
import { ApiError, get, post, type JobRecord, type Me } from '../api.js';

interface Manifest {
  applications?: { name: string; components: { name: string; kind: string; source: string }[] }[];
}
interface PlanItem {
  app: string;
  component: string;
  kind: string;
  preflight: { target: string; problems: string[]; plan: string[] };
}
interface Plan {
  ok: boolean;
  /** What restoring the whole of a full snapshot installs on this instance (recovery). */
  instancePlan?: string[];
  plan: PlanItem[];
  skipped: { app: string; component: string; reason: string }[];
}

/** The field that says where a component goes, by kind (what --map changes on the CLI). */
const TARGET_FIELD: Record<string, string> = { files: 'path', postgres: 'url', mysql: 'url', sqlite: 'path', redis: 'rdbPath', kubernetes: 'namespace' };
/** What the target field is, in words; a Redis target is the RDB file its server loads, not its URL. */
const FIELD_WORDS: Record<string, string> = { files: 'a directory', postgres: 'a database URL', mysql: 'a database URL', sqlite: 'a database file', redis: 'the RDB file the Redis server loads', kubernetes: 'new namespaces, as OLD:NEW (several: comma-separated)' };

async function finished(id: string): Promise<JobRecord> {
  for (;;) {
    const j = await get<JobRecord>(`/api/jobs/${id}`);
    if (j.phase !== 'queued' && j.phase !== 'running') return j;
    await new Promise((r) => setTimeout(r, 300));
  }
}

/** Restore wizard: choose components, map targets, run the preflight (a dry run), confirm by typing the application's name, watch it live. */
export function RestoreWizard({ me, id }: { me: Me; id: string }) {
  const [m, setM] = useState<Manifest & { id: string }>();
  const [chosen, setChosen] = useState<Record<string, boolean>>({});
  const [targets, setTargets] = useState<Record<string, string>>({});
  const [plan, setPlan] = useState<Plan>();
  const [checking, setChecking] = useState(false);
  const [force, setForce] = useState(false);
  const [typed, setTyped] = useState('');
  const [error, setError] = useState<string>();
  useEffect(() => {
    get<{ id: string; manifest: Manifest }>(`/api/snapshots/${id}`).then(
      (s) => {
        setM({ ...s.manifest, id: s.id });
        const all: Record<string, boolean> = {};
        for (const a of s.manifest.applications ?? []) for (const c of a.components) all[`${a.name}/${c.name}`] = true;
        setChosen(all);
      },
      (e: Error) => setError(e.message),
    );
  }, [id]);
  if (error && !m) return <div className="error" role="alert">{error}</div>;
  if (!m) return <p className="empty">Loading…</p>;
  const apps = m.applications ?? [];
  const names = apps.map((a) => a.name);
  const request = () => {
    const components = Object.entries(chosen).filter(([, v]) => v).map(([k]) => k);
    const maps = Object.entries(targets)
      .filter(([k, v]) => v.trim() && chosen[k])
      .flatMap(([k, v]) => {
        const [app, component] = k.split('/') as [string, string];
        const kind = apps.find((a) => a.name === app)?.components.find((c) => c.name === component)?.kind ?? '';
        // Namespaces map one by one: shop:shop-copy, jobs:jobs-copy.
        const values = kind === 'kubernetes' ? v.split(',').map((x) => x.trim()).filter(Boolean) : [v.trim()];
        return values.map((value) => ({ component: apps.length > 1 ? k : component, field: TARGET_FIELD[kind] ?? 'path', value }));
      });
    // Every component of a full snapshot chosen is the whole snapshot: the instance state comes back too (recovery).
    const whole = components.length === apps.reduce((n, a) => n + a.components.length, 0);
    return { ...(whole ? {} : { components: components.map((k) => (apps.length > 1 ? k : k.split('/')[1]!)) }), maps, force };
  };
  const check = async () => {
    setChecking(true);
    setError(undefined);
    setPlan(undefined);
    try {
      const j = await post<JobRecord>(`/api/snapshots/${m.id}/restore`, { ...request(), dryRun: true });
      const done = await finished(j.id);
      if (!done.result) throw new Error(done.errors.join('; ') || `the check ${done.phase}`);
      setPlan(done.result as unknown as Plan);
    } catch (e) {
      setError(e instanceof ApiError ? e.message : (e as Error).message);
    } finally {
      setChecking(false);
    }
  };
  const run = async () => {
    try {
      const j = await post<JobRecord>(`/api/snapshots/${m.id}/restore`, { ...request(), dryRun: false });
      location.hash = `#/job/${j.id}`;
    } catch (e) {
      setError(e instanceof ApiError ? e.message : (e as Error).message);
    }
  };
  const confirmName = names.join(', ');
  return (
    <>
      <h1>Restore snapshot {m.id.slice(0, 8)}</h1>
      <ol className="muted">
        <li>Choose the components, and where each goes (empty: where it came from).</li>
        <li>Check: a dry run plans the restore and checks every target; nothing is changed.</li>
        <li>Confirm by typing the application's name; then watch it run.</li>
      </ol>
      {apps.map((a) => (
        <fieldset className="panel" key={a.name}>
          <legend>{a.name}</legend>
          {a.components.map((c) => {
            const key = `${a.name}/${c.name}`;
            const field = TARGET_FIELD[c.kind];
            return (
              <div className="row" key={key}>
                <label className="row">
                  <input type="checkbox" checked={!!chosen[key]} onChange={(e) => (setChosen({ ...chosen, [key]: e.target.checked }), setPlan(undefined))} /> {c.name} ({c.kind})
                </label>
                {field && (
                  <div className="grow">
                    <label htmlFor={`t-${key}`}>
                      Restore {c.name} to {FIELD_WORDS[c.kind] ?? field} ({field}{c.kind === 'redis' ? `; the server is ${c.source}` : `; now ${c.source}`})
                    </label>
                    <input id={`t-${key}`} value={targets[key] ?? ''} placeholder={c.kind === 'redis' ? '/var/lib/redis/dump.rdb' : c.kind === 'kubernetes' ? 'shop:shop-copy' : c.source} onChange={(e) => (setTargets({ ...targets, [key]: e.target.value }), setPlan(undefined))} />
                  </div>
                )}
              </div>
            );
          })}
        </fieldset>
      ))}
      <label className="row">
        <input type="checkbox" checked={force} onChange={(e) => (setForce(e.target.checked), setPlan(undefined))} /> Restore into targets that are not empty (files replaced; databases get the snapshot's objects dropped and recreated)
      </label>
      <p>
        <button className="primary" disabled={checking} onClick={() => void check()}>
          {checking ? 'Checking…' : 'Check (dry run)'}
        </button>
      </p>
      {error && <div className="error" role="alert">{error}</div>}
      {plan && (
        <section className="panel" aria-label="Restore plan">
          <h2>{plan.ok ? 'The preflight passed' : 'The preflight found problems'}</h2>
          {(plan.instancePlan?.length ?? 0) > 0 && (
            <>
              <h3>It also installs the instance</h3>
              <ul aria-label="Instance plan">
                {plan.instancePlan!.map((l) => (
                  <li key={l}>{l}</li>
                ))}
              </ul>
            </>
          )}
          <ul>
            {plan.plan.map((p) => (
              <li key={`${p.app}/${p.component}`}>
                {p.app}/{p.component} → {p.preflight.target}
                {p.preflight.problems.map((x) => (
                  <div className="gap" key={x}>
                    {x}
                  </div>
                ))}
              </li>
            ))}
          </ul>
          {plan.ok && me.role === 'admin' && (
            <>
              <label htmlFor="confirm-name">Type {confirmName} to restore</label>
              <input id="confirm-name" value={typed} onChange={(e) => setTyped(e.target.value)} autoComplete="off" />
              <p>
                <button className="danger" disabled={typed !== confirmName} onClick={() => void run()}>
                  Restore now
                </button>
              </p>
            </>
          )}
          {plan.ok && me.role !== 'admin' && <p className="muted">Restores are for admins (an admin can allow operators in the security settings).</p>}
        </section>
      )}
    </>
  );
}
