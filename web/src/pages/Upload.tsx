import { useState, type DragEvent } from 'react';
import { bytes, csrfToken, get, type JobRecord } from '../api.js';

/** Upload an archive: dropped or chosen, sent with progress, verified completely by the server before anything is imported. */
export function Upload() {
  const [file, setFile] = useState<File>();
  const [password, setPassword] = useState('');
  const [sent, setSent] = useState(0);
  const [state, setState] = useState<{ phase: 'idle' | 'sending' | 'verifying' | 'done' | 'failed'; job?: JobRecord; error?: string }>({ phase: 'idle' });
  const [over, setOver] = useState(false);
  const drop = (e: DragEvent) => {
    e.preventDefault();
    setOver(false);
    const f = e.dataTransfer.files[0];
    if (f) setFile(f);
  };
  const send = () => {
    if (!file) return;
    setState({ phase: 'sending' });
    const xhr = new XMLHttpRequest();
    xhr.open('POST', '/api/snapshots/upload');
    xhr.setRequestHeader('content-type', 'application/octet-stream');
    xhr.setRequestHeader('x-archive-password', password);
    const t = csrfToken();
    if (t) xhr.setRequestHeader('x-csrf-token', t);
    xhr.upload.onprogress = (e) => setSent(e.loaded);
    xhr.onerror = () => setState({ phase: 'failed', error: 'The upload broke off (the connection was lost).' });
    xhr.onload = async () => {
      const body = JSON.parse(xhr.responseText || '{}') as JobRecord & { error?: { message: string } };
      if (xhr.status >= 300) return setState({ phase: 'failed', error: body.error?.message ?? `HTTP ${xhr.status}` });
      setState({ phase: 'verifying', job: body });
      let j = body;
      while (j.phase === 'queued' || j.phase === 'running') {
        await new Promise((r) => setTimeout(r, 300));
        j = await get<JobRecord>(`/api/jobs/${j.id}`);
      }
      setState(j.phase === 'completed' ? { phase: 'done', job: j } : { phase: 'failed', job: j, error: j.errors.join('; ') || j.phase });
    };
    xhr.send(file);
  };
  const r = state.job?.result as { snapshots?: string[]; skipped?: string[]; verifiedBytes?: number } | null | undefined;
  return (
    <>
      <h1>Upload an archive</h1>
      <div
        className={`panel drop${over ? ' over' : ''}`}
        onDragOver={(e) => (e.preventDefault(), setOver(true))}
        onDragLeave={() => setOver(false)}
        onDrop={drop}
      >
        <p>Drop a Strongbox archive (.sbx) here, or choose one:</p>
        <label htmlFor="up-file">Archive file</label>
        <input id="up-file" type="file" accept=".sbx,application/octet-stream" onChange={(e) => setFile(e.target.files?.[0])} />
        {file && (
          <p>
            {file.name}, {bytes(file.size)}
          </p>
        )}
        <label htmlFor="up-pw">The archive's password</label>
        <input id="up-pw" type="password" autoComplete="off" value={password} onChange={(e) => setPassword(e.target.value)} />
        <p>
          <button className="primary" disabled={!file || !password || state.phase === 'sending' || state.phase === 'verifying'} onClick={send}>
            Upload and verify
          </button>
        </p>
        {state.phase === 'sending' && file && (
          <div aria-label="Upload progress">
            <div className="bar" role="progressbar" aria-valuemin={0} aria-valuemax={file.size} aria-valuenow={sent}>
              <div style={{ width: `${Math.round((sent / Math.max(1, file.size)) * 100)}%` }} />
            </div>
            {bytes(sent)} of {bytes(file.size)}
          </div>
        )}
        <div role="status" aria-live="polite">
          {state.phase === 'verifying' && 'Verifying every blob and tree of the archive…'}
          {state.phase === 'done' && (
            <span>
              Verified and imported: {(r?.snapshots ?? []).map((s) => (
                <a key={s} href={`#/snapshot/${s}`}>
                  {s.slice(0, 8)}{' '}
                </a>
              ))}
              {(r?.skipped ?? []).length > 0 && ` (${r?.skipped?.length} there already)`}
            </span>
          )}
        </div>
        {state.phase === 'failed' && <div className="error" role="alert">Nothing was imported: {state.error}</div>}
      </div>
    </>
  );
}
