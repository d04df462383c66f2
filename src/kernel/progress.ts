/**
 * Typed progress events. The engine emits them to a sink and never prints;
 * the CLI renders a bar or JSON lines, a server forwards them.
 */
export interface ProgressCounters {
  files: number;
  dirs: number;
  bytes: number;
  newBytes: number;
  totalFiles?: number;
  totalBytes?: number;
}

export type ProgressEvent =
  | { type: 'phase'; phase: string }
  | { type: 'progress'; counters: ProgressCounters; current?: string }
  | { type: 'warning'; path?: string; message: string }
  | { type: 'error'; path?: string; message: string }
  /** A line of an application run's log (hooks, tools, components). */
  | { type: 'log'; time: string; line: string }
  /** An application component starts or ends (per-component progress is measured between the two). */
  | { type: 'component'; app: string; component: string; kind: string; state: 'running' | 'completed' | 'partially_failed' | 'failed' | 'skipped'; bytes?: number; items?: number; error?: string };

export interface ProgressSink {
  emit(event: ProgressEvent): void;
}

export const nullSink: ProgressSink = { emit: () => undefined };
