import { systemClock } from '../../kernel/index.js';
import { createHmac } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import type { Logger } from 'pino';
import type { JobRecord } from '../../jobs/index.js';
import type { Instance } from '../../app/index.js';
import type { PasswordRef } from '../../catalog/index.js';
import type { AppVerification } from '../../operations/index.js';

type StoredNotifications = Omit<NotificationSettingsT, 'webhooks'> & { webhooks: (Omit<NotificationSettingsT['webhooks'][number], 'secret'> & { secretRef?: PasswordRef })[] };
import { VERSION } from '../../app/index.js';
import { NotificationSettings, type NotificationSettingsT } from '../contract/index.js';

export type NotifyEvent = 'failure' | 'partial' | 'recovery' | 'success' | 'unverified';

/** The event a finished job is, given the job before it of the same kind and application: recovery is success after a failure. */
export function classify(job: JobRecord, previous: JobRecord | undefined): NotifyEvent | undefined {
  if (job.phase === 'failed') return 'failure';
  if (job.phase === 'partially_failed') return 'partial';
  if (job.phase === 'completed') return previous && (previous.phase === 'failed' || previous.phase === 'partially_failed') ? 'recovery' : 'success';
  return undefined;
}

const NOTIFIED_KINDS = new Set(['backup', 'restore', 'check', 'prune', 'upload', 'drill']);

/** Which applications newly became overdue (no verified snapshot within the drill objective) and which are verified again, given those overdue at the last look. */
export function verificationChanges(now: Pick<AppVerification, 'app' | 'overdue'>[], before: string[]): { overdue: string[]; recovered: string[]; state: string[] } {
  const state = now.filter((v) => v.overdue).map((v) => v.app).sort();
  const present = new Set(now.map((v) => v.app));
  return { overdue: state.filter((a) => !before.includes(a)), recovered: before.filter((a) => !state.includes(a) && present.has(a)), state };
}


/**
 * Webhooks (JSON POST, HMAC-signed when a secret is set) and e-mail through an
 * SMTP relay on failure, partial failure and recovery, each delivery retried
 * with backoff. A delivery's failure is logged, never the job's.
 */
export class Notifier {
  private pending = new Set<Promise<void>>();
  /** Backoff between attempts (ms); tests shorten it. */
  backoff = [1000, 5000, 20000];

  constructor(private readonly inst: Instance, private readonly log: Logger) {}

  /** The settings with webhook secrets opened (for deliveries only). */
  async settings(): Promise<NotificationSettingsT> {
    const stored = await this.inst.settings.get<StoredNotifications>('notifications', { webhooks: [] });
    return NotificationSettings.parse({ ...stored, webhooks: stored.webhooks.map(({ secretRef, ...w }) => ({ ...w, ...(secretRef ? { secret: this.inst.resolvePassword(secretRef) } : {}) })) });
  }

  /** The settings as an admin sees them: secrets masked. */
  async view(): Promise<NotificationSettingsT> {
    const stored = await this.inst.settings.get<StoredNotifications>('notifications', { webhooks: [] });
    return NotificationSettings.parse({ ...stored, webhooks: stored.webhooks.map(({ secretRef, ...w }) => ({ ...w, ...(secretRef ? { secret: '***' } : {}) })) });
  }

  /** Stores the settings with webhook secrets sealed by the instance key; "***" keeps the secret stored for that URL. */
  async save(s: NotificationSettingsT): Promise<void> {
    const before = await this.inst.settings.get<StoredNotifications>('notifications', { webhooks: [] });
    const webhooks = s.webhooks.map(({ secret, ...w }) => {
      const kept = secret === '***' ? before.webhooks.find((b) => b.url === w.url)?.secretRef : undefined;
      return { ...w, ...(secret && secret !== '***' ? { secretRef: this.inst.sealSecret(secret) } : kept ? { secretRef: kept } : {}) };
    });
    await this.inst.settings.set('notifications', { ...s, webhooks });
  }

  async jobFinished(job: JobRecord): Promise<void> {
    if (!NOTIFIED_KINDS.has(job.kind) || job.phase === 'canceled') return;
    const history = await this.inst.jobs.list({ kind: job.kind, ...(job.app ? { app: job.app } : {}), limit: 20 });
    const previous = history.find((j) => j.id !== job.id && j.finishedAt && j.phase !== 'canceled' && (j.app ?? null) === (job.app ?? null) && j.createdAt <= job.createdAt);
    const event = classify(job, previous);
    if (!event) return;
    const s = await this.settings();
    const payload = {
      event,
      time: systemClock.now().toISOString(),
      strongbox: VERSION,
      job: { id: job.id, kind: job.kind, app: job.app, destination: job.destination, phase: job.phase, requestedBy: job.requestedBy, schedule: job.scheduleId, startedAt: job.startedAt, finishedAt: job.finishedAt, errors: job.errors.slice(0, 20), result: job.result },
      summary: summary(event, job),
    };
    for (const w of s.webhooks) if (w.events.includes(event)) this.enqueue(`webhook ${w.url}`, () => postWebhook(w.url, payload, w.secret));
    if (s.smtp && s.smtp.events.includes(event)) {
      const smtp = s.smtp;
      this.enqueue(`mail to ${smtp.to.join(', ')}`, () => sendMail(smtp, `[Strongbox] ${payload.summary}`, mailBody(payload)));
    }
  }

  /**
   * An application whose newest verified data got older than its drill
   * objective is said once ("unverified"), and again when a drill verifies
   * it ("recovery"); what was said is kept in the catalog across restarts.
   */
  async verificationChecked(status: AppVerification[]): Promise<void> {
    const before = await this.inst.settings.get<{ overdue: string[] }>('verification-alerts', { overdue: [] });
    const ch = verificationChanges(status, before.overdue);
    if (ch.overdue.length === 0 && ch.recovered.length === 0) return;
    await this.inst.settings.set('verification-alerts', { overdue: ch.state });
    const s = await this.settings();
    for (const app of [...ch.overdue, ...ch.recovered]) {
      const v = status.find((x) => x.app === app)!;
      const event: NotifyEvent = ch.overdue.includes(app) ? 'unverified' : 'recovery';
      const days = (sec: number) => (sec >= 2 * 86400 ? `${Math.round(sec / 86400)} days` : `${Math.round(sec / 3600)} hours`);
      const summary =
        event === 'unverified'
          ? `${app}: ${v.verified ? `the newest verified snapshot is ${days(v.ageSeconds!)} old` : 'no snapshot was ever verified by a restore drill'}, beyond the objective of ${days(v.objectiveSeconds!)} (schedule ${v.schedule})`
          : `${app}: verified again by drill ${v.verified?.drill ?? '?'} (snapshot ${v.verified?.snapshot.slice(0, 8) ?? '?'})`;
      this.log.warn(`verification: ${summary}`);
      const payload = { event, time: systemClock.now().toISOString(), strongbox: VERSION, app, verification: v, summary };
      for (const w of s.webhooks) if (w.events.includes(event)) this.enqueue(`webhook ${w.url}`, () => postWebhook(w.url, payload, w.secret));
      if (s.smtp && s.smtp.events.includes(event)) {
        const smtp = s.smtp;
        this.enqueue(`mail to ${smtp.to.join(', ')}`, () => sendMail(smtp, `[Strongbox] ${summary}`, [summary, '', 'strongbox drill status', `strongbox drill run --app ${app}`].join('\r\n')));
      }
    }
  }

  async idle(): Promise<void> {
    await Promise.allSettled([...this.pending]);
  }

  /** Deliveries to one target go in order: a retried failure is not overtaken by the recovery after it. */
  private queues = new Map<string, Promise<void>>();

  private enqueue(target: string, send: () => Promise<void>): void {
    const p = (this.queues.get(target) ?? Promise.resolve()).then(() => this.deliver(target, send));
    this.queues.set(target, p);
    this.track(p);
    void p.finally(() => {
      if (this.queues.get(target) === p) this.queues.delete(target);
    });
  }

  private track(p: Promise<void>): void {
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }

  private async deliver(what: string, send: () => Promise<void>): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await send();
        this.log.info(`notification delivered: ${what}`);
        return;
      } catch (err) {
        const wait = this.backoff[attempt];
        if (wait === undefined) {
          this.log.error({ err: (err as Error).message }, `notification to ${what} failed after ${attempt + 1} attempts`);
          return;
        }
        this.log.warn({ err: (err as Error).message }, `notification to ${what} failed (attempt ${attempt + 1}); retrying in ${wait} ms`);
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  }
}

function summary(event: NotifyEvent, job: JobRecord): string {
  const what = `${job.kind === 'drill' ? 'restore drill' : job.kind}${job.app ? ` of ${job.app}` : job.kind === 'backup' ? ' (full)' : ''}`;
  switch (event) {
    case 'failure':
      return `${what} failed: ${job.errors[0] ?? 'see the job log'}`;
    case 'partial':
      return `${what} partially failed: ${job.errors[0] ?? 'see the job log'}`;
    case 'recovery':
      return `${what} succeeded again`;
    case 'success':
    case 'unverified':
      return `${what} succeeded`;
  }
}

function mailBody(p: { summary: string; job: { id: string; errors: string[]; startedAt: string | null; finishedAt: string | null } }): string {
  return [p.summary, '', `job ${p.job.id}`, `started ${p.job.startedAt ?? '-'}`, `finished ${p.job.finishedAt ?? '-'}`, '', ...p.job.errors.map((e) => `- ${e}`), '', `strongbox job show ${p.job.id}`].join('\r\n');
}

async function postWebhook(url: string, payload: unknown, secret?: string): Promise<void> {
  const body = JSON.stringify(payload);
  const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': `strongbox/${VERSION}` };
  if (secret) headers['x-strongbox-signature'] = `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
  const res = await fetch(url, { method: 'POST', headers, body, signal: AbortSignal.timeout(10000) });
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
}

/** A plain SMTP conversation with a relay (no authentication, as a local relay or an internal smarthost takes it). */
export async function sendMail(o: { host: string; port: number; from: string; to: string[] }, subject: string, text: string): Promise<void> {
  const sock: Socket = connect({ host: o.host, port: o.port });
  sock.setEncoding('utf8');
  sock.setTimeout(15000, () => sock.destroy(new Error('SMTP timeout')));
  let buf = '';
  const waiters: ((line: string) => void)[] = [];
  const errors: ((err: Error) => void)[] = [];
  sock.on('data', (d: string) => {
    buf += d;
    let i: number;
    while ((i = buf.indexOf('\r\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 2);
      if (/^\d{3}-/.test(line)) continue;
      waiters.shift()?.(line);
    }
  });
  sock.on('error', (err) => errors.forEach((f) => f(err)));
  const reply = (want: number) =>
    new Promise<void>((resolve, reject) => {
      errors.push(reject);
      waiters.push((line) => (line.startsWith(String(want)) ? resolve() : reject(new Error(`SMTP: ${line}`))));
    });
  const say = async (line: string, want: number) => {
    const r = reply(want);
    sock.write(`${line}\r\n`);
    await r;
  };
  try {
    await reply(220);
    await say('EHLO strongbox', 250);
    await say(`MAIL FROM:<${o.from}>`, 250);
    for (const t of o.to) await say(`RCPT TO:<${t}>`, 250);
    await say('DATA', 354);
    const msg = [`From: ${o.from}`, `To: ${o.to.join(', ')}`, `Subject: ${subject.replace(/[\r\n]/g, ' ')}`, `Date: ${systemClock.now().toUTCString()}`, 'Content-Type: text/plain; charset=utf-8', '', text.replace(/^\./gm, '..')].join('\r\n');
    await say(`${msg}\r\n.`, 250);
    await say('QUIT', 221);
  } finally {
    sock.destroy();
  }
}
