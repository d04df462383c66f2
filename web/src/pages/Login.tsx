import { useState } from 'react';
import { call, setCsrf, submitting, type Me } from '../api.js';

export function Login({ onSignedIn }: { onSignedIn: () => Promise<void> }) {
  const [user, setUser] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string>();
  const submit = submitting(setError, async () => {
    setError(undefined);
    const r = await call<{ csrf: string }>('POST', '/api/auth/login', { user, password });
    setCsrf(r.csrf);
    await onSignedIn();
  });
  return (
    <form className="panel login" onSubmit={(e) => void submit(e)} aria-labelledby="signin">
      <h1 id="signin">Sign in to Strongbox</h1>
      <label htmlFor="user">User</label>
      <input id="user" autoComplete="username" value={user} onChange={(e) => setUser(e.target.value)} required />
      <label htmlFor="password">Password</label>
      <input id="password" type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} required />
      {error && <div className="error" role="alert">{error}</div>}
      <p>
        <button className="primary" type="submit">Sign in</button>
      </p>
      <p className="muted">First start? The server printed a one-time password for <code>admin</code>.</p>
    </form>
  );
}

export function ChangePassword({ me, onDone }: { me: Me; onDone: () => Promise<void> }) {
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [again, setAgain] = useState('');
  const [error, setError] = useState<string>();
  const submit = submitting(setError, async () => {
    if (next !== again) return setError('The two new passwords differ.');
    const r = await call<{ csrf?: string }>('POST', '/api/auth/password', { current, new: next });
    setCsrf(r.csrf);
    await onDone();
  });
  return (
    <form className="panel login" onSubmit={(e) => void submit(e)} aria-labelledby="chpw">
      <h1 id="chpw">Choose a new password</h1>
      <p className="muted">{me.user}, you signed in with a one-time password. Choose your own (at least 10 characters) to go on.</p>
      <label htmlFor="current">One-time password</label>
      <input id="current" type="password" autoComplete="current-password" value={current} onChange={(e) => setCurrent(e.target.value)} required />
      <label htmlFor="new">New password</label>
      <input id="new" type="password" autoComplete="new-password" minLength={10} value={next} onChange={(e) => setNext(e.target.value)} required />
      <label htmlFor="again">New password again</label>
      <input id="again" type="password" autoComplete="new-password" value={again} onChange={(e) => setAgain(e.target.value)} required />
      {error && <div className="error" role="alert">{error}</div>}
      <p>
        <button className="primary" type="submit">Save and continue</button>
      </p>
    </form>
  );
}
