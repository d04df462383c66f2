import { useCallback, useEffect, useState } from 'react';
import { ApiError, call, get, setCsrf, type Me } from './api.js';
import { Login, ChangePassword } from './pages/Login.js';
import { Dashboard } from './pages/Dashboard.js';
import { Snapshots, SnapshotDetail } from './pages/Snapshots.js';
import { JobPage, Jobs } from './pages/Jobs.js';
import { Schedules } from './pages/Schedules.js';
import { RestoreWizard } from './pages/Restore.js';
import { Upload } from './pages/Upload.js';
import { Applications, Destinations } from './pages/Setup.js';
import { Audit, Users } from './pages/Admin.js';
import { Settings } from './pages/Settings.js';

/** Hash routes (#/snapshots/ID): the server serves one page; the API is the only other thing it talks to. */
function useRoute(): string[] {
  const read = () => (location.hash.replace(/^#\/?/, '') || 'dashboard').split('/').map(decodeURIComponent);
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const on = () => setRoute(read());
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}

const sections: [string, string][] = [
  ['dashboard', 'Dashboard'],
  ['snapshots', 'Snapshots'],
  ['jobs', 'Jobs'],
  ['schedules', 'Schedules'],
  ['applications', 'Applications'],
  ['destinations', 'Destinations'],
  ['users', 'Users and tokens'],
];

export function App() {
  const [me, setMe] = useState<Me | null | undefined>(undefined);
  const route = useRoute();
  const refresh = useCallback(async () => {
    try {
      const m = await get<Me>('/api/auth/me');
      setCsrf(m.csrf);
      setMe(m);
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) setMe(null);
      else throw e;
    }
  }, []);
  useEffect(() => {
    void refresh();
  }, [refresh]);
  if (me === undefined) return <p className="empty">Loading…</p>;
  if (me === null) return <Login onSignedIn={refresh} />;
  if (me.mustChangePassword) return <ChangePassword me={me} onDone={refresh} />;
  const [section = 'dashboard', id] = route;
  const signOut = async () => {
    await call('POST', '/api/auth/logout', {});
    setCsrf(undefined);
    setMe(null);
  };
  return (
    <div className="shell">
      <nav className="side" aria-label="Sections">
        <div className="brand">Strongbox</div>
        {[...sections, ...(me.role === 'admin' ? ([['upload', 'Upload'], ['audit', 'Audit log'], ['settings', 'Settings']] as [string, string][]) : [])].map(([key, label]) => (
          <a key={key} href={`#/${key}`} aria-current={section === key || ((section === 'snapshot' || section === 'restore') && key === 'snapshots') || (section === 'job' && key === 'jobs') ? 'page' : undefined}>
            {label}
          </a>
        ))}
        <div className="who">
          Signed in as <strong>{me.user}</strong> ({me.role})
          <div>
            <button onClick={() => void signOut()}>Sign out</button>
          </div>
        </div>
      </nav>
      <main>
        {section === 'dashboard' && <Dashboard me={me} />}
        {section === 'snapshots' && <Snapshots me={me} />}
        {section === 'snapshot' && id && <SnapshotDetail me={me} id={id} />}
        {section === 'jobs' && <Jobs />}
        {section === 'job' && id && <JobPage me={me} id={id} />}
        {section === 'schedules' && <Schedules me={me} />}
        {section === 'restore' && id && <RestoreWizard me={me} id={id} />}
        {section === 'upload' && <Upload />}
        {section === 'applications' && <Applications me={me} />}
        {section === 'destinations' && <Destinations me={me} />}
        {section === 'users' && <Users me={me} />}
        {section === 'audit' && <Audit />}
        {section === 'settings' && <Settings />}
      </main>
    </div>
  );
}
