import { AppError, formatBytes, systemClock, type ProgressEvent, type ProgressSink } from '../kernel/index.js';

export { formatBytes };

export function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${String(sec).padStart(2, '0')}` : `${m}:${String(sec).padStart(2, '0')}`;
}

/**
 * A name or field from a snapshot, made safe for a terminal: control
 * characters (a crafted name could carry escape sequences that rewrite the
 * screen, or a newline that forges a line) are shown as \xNN.
 */
export function quoteControl(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

export function table(rawRows: string[][], header: string[]): string {
  const rows = rawRows.map((r) => r.map(quoteControl));
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export interface Output {
  json: boolean;
  quiet: boolean;
  out(text: string): void;
  err(text: string): void;
  data(value: unknown): void;
}

export function makeOutput(json: boolean, quiet: boolean): Output {
  return {
    json,
    quiet,
    out: (t) => {
      if (!json) process.stdout.write(t + '\n');
    },
    err: (t) => {
      if (!quiet) process.stderr.write(t + '\n');
    },
    data: (v) => process.stdout.write(JSON.stringify(v, null, 2) + '\n'),
  };
}

/**
 * A progress bar on stderr when it is a terminal; nothing otherwise. Warnings
 * are printed as they come (unless quiet), so an operator sees what was skipped.
 */
export class ProgressBar implements ProgressSink {
  private readonly tty = !!process.stderr.isTTY;
  private readonly started = systemClock.now().getTime();
  private lastDraw = 0;
  private drawn = false;
  private phase = '';

  private readonly quiet: boolean;
  private readonly json: boolean;
  private readonly bar: boolean;

  constructor(
    private readonly label: string,
    out: Pick<Output, 'quiet' | 'json'>,
  ) {
    this.quiet = out.quiet;
    this.json = out.json;
    this.bar = this.tty && !out.quiet && !out.json;
  }

  emit(e: ProgressEvent): void {
    if (e.type === 'warning' || e.type === 'error') {
      if (this.quiet) return;
      this.clear();
      process.stderr.write(`${e.type}: ${e.path ? e.path + ': ' : ''}${e.message}\n`);
      return;
    }
    if (e.type === 'phase') {
      this.phase = e.phase;
      return;
    }
    if (e.type === 'log') {
      if (this.quiet || this.json) return;
      this.clear();
      process.stderr.write(`${e.time.slice(11, 19)} ${e.line}\n`);
      return;
    }
    if (!this.bar || e.type !== 'progress') return;
    const now = systemClock.now().getTime();
    if (now - this.lastDraw < 100) return;
    this.lastDraw = now;
    const c = e.counters;
    const elapsed = (now - this.started) / 1000;
    const rate = elapsed > 0 ? c.bytes / elapsed : 0;
    let bar = '';
    let eta = '';
    if (c.totalBytes !== undefined && c.totalBytes > 0) {
      const frac = Math.min(1, c.bytes / c.totalBytes);
      const w = 24;
      const full = Math.round(frac * w);
      bar = `[${'='.repeat(Math.max(0, full - 1))}${full > 0 ? '>' : ''}${' '.repeat(w - full)}] ${(frac * 100).toFixed(0).padStart(3)}% `;
      if (rate > 0 && frac < 1) eta = ` ETA ${formatDuration(((c.totalBytes - c.bytes) / rate) * 1000)}`;
    }
    const files = c.totalFiles !== undefined ? `${c.files}/${c.totalFiles}` : `${c.files}`;
    const total = c.totalBytes !== undefined ? `/${formatBytes(c.totalBytes)}` : '';
    const line = `${this.label}${this.phase ? ` (${this.phase})` : ''} ${bar}${files} files ${formatBytes(c.bytes)}${total} ${formatBytes(rate)}/s${eta}`;
    const cols = process.stderr.columns || 100;
    process.stderr.write(`\r${line.slice(0, cols - 1).padEnd(Math.min(cols - 1, line.length + 5))}`);
    this.drawn = true;
  }

  clear(): void {
    if (this.drawn) {
      process.stderr.write(`\r${' '.repeat((process.stderr.columns || 100) - 1)}\r`);
      this.drawn = false;
    }
  }
}

/** Sizes such as 512M, 64G, 1.5T, 1048576 (bytes). */
export function parseSize(s: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?$/i.exec(s.trim());
  if (!m) throw new AppError('USAGE', `"${s}" is not a size: use e.g. 512M, 64G or a number of bytes.`);
  const mult = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 }[m[2]!.toUpperCase() as '' | 'K' | 'M' | 'G' | 'T'];
  return Math.floor(Number(m[1]) * mult);
}
