import type { ProgressEvent } from '../kernel/index.js';
import { emptyProgress, type ComponentProgress, type JobProgress } from './job.js';

/**
 * Folds the engine's progress events into a job's progress: totals, and per
 * component the bytes and items between its start and end events, a rate
 * and, where a total is known, an ETA. Pure apart from the clock it is given.
 */
export class ProgressTracker {
  readonly progress: JobProgress = emptyProgress();
  private startedAt: number;
  private compStart = new Map<string, { t: number; bytes: number; items: number }>();

  constructor(private readonly now: () => number = Date.now) {
    this.startedAt = now();
  }

  /** Components known up front (an application's spec), shown as pending. */
  plan(components: { app: string; component: string; kind: string }[]): void {
    for (const c of components) this.progress.components.push({ ...c, state: 'pending', bytes: 0, items: 0, rate: 0 });
  }

  apply(e: ProgressEvent): void {
    const p = this.progress;
    const t = this.now();
    switch (e.type) {
      case 'phase':
        p.current = e.phase;
        break;
      case 'progress': {
        p.bytes = e.counters.bytes;
        p.newBytes = e.counters.newBytes;
        p.items = e.counters.files;
        if (e.counters.totalBytes !== undefined) p.totalBytes = e.counters.totalBytes;
        const secs = (t - this.startedAt) / 1000;
        p.rate = secs > 0 ? Math.round(p.bytes / secs) : 0;
        if (p.totalBytes && p.rate > 0) p.etaSeconds = Math.max(0, Math.round((p.totalBytes - p.bytes) / p.rate));
        for (const c of p.components) {
          if (c.state !== 'running') continue;
          const s = this.compStart.get(key(c));
          if (!s) continue;
          c.bytes = p.bytes - s.bytes;
          c.items = p.items - s.items;
          const cs = (t - s.t) / 1000;
          c.rate = cs > 0 ? Math.round(c.bytes / cs) : 0;
          if (c.totalBytes && c.rate > 0) c.etaSeconds = Math.max(0, Math.round((c.totalBytes - c.bytes) / c.rate));
        }
        break;
      }
      case 'component': {
        let c = p.components.find((x) => x.app === e.app && x.component === e.component);
        if (!c) {
          c = { app: e.app, component: e.component, kind: e.kind, state: 'pending', bytes: 0, items: 0, rate: 0 };
          p.components.push(c);
        }
        c.state = e.state;
        if (e.state === 'running') {
          this.compStart.set(key(c), { t, bytes: p.bytes, items: p.items });
          p.current = `${e.app}/${e.component}`;
        } else {
          if (e.bytes !== undefined) c.bytes = e.bytes;
          if (e.items !== undefined) c.items = e.items;
          const s = this.compStart.get(key(c));
          const cs = s ? (t - s.t) / 1000 : 0;
          c.rate = cs > 0 ? Math.round(c.bytes / cs) : 0;
          delete c.etaSeconds;
          if (e.error) c.error = e.error;
        }
        break;
      }
      default:
        break;
    }
  }

  /** At the end: components never started are skipped. */
  finish(): JobProgress {
    const p = this.progress;
    for (const c of p.components) if (c.state === 'pending' || c.state === 'running') c.state = 'skipped';
    // Progress events are throttled: the totals end as at least what the components report.
    p.bytes = Math.max(p.bytes, p.components.reduce((n, c) => n + c.bytes, 0));
    p.items = Math.max(p.items, p.components.reduce((n, c) => n + c.items, 0));
    delete this.progress.etaSeconds;
    return this.progress;
  }
}

function key(c: Pick<ComponentProgress, 'app' | 'component'>): string {
  return `${c.app}\u0000${c.component}`;
}
