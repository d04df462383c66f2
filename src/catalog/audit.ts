import type { Catalog } from './database.js';

export interface AuditEntry {
  id: number;
  time: string;
  actor: string;
  action: string;
  target: string | null;
  ip: string | null;
  outcome: string;
  details: Record<string, unknown> | null;
}

export interface AuditFilter {
  actor?: string;
  action?: string;
  since?: string;
  limit?: number;
}

/** Who did what, when, from where, and how it ended. Append-only. */
export class AuditLog {
  constructor(private readonly db: Catalog) {}

  async record(e: Omit<AuditEntry, 'id'>): Promise<void> {
    await this.db.insertInto('audit').values({ time: e.time, actor: e.actor, action: e.action, target: e.target, ip: e.ip, outcome: e.outcome, details: e.details ? JSON.stringify(e.details) : null }).execute();
  }

  /** Adds entries of another instance's log (a full snapshot's) that this log lacks; returns how many. */
  async importEntries(entries: Omit<AuditEntry, 'id'>[]): Promise<number> {
    const seen = new Set((await this.db.selectFrom('audit').select(['time', 'actor', 'action', 'target']).execute()).map((r) => `${r.time}\u0000${r.actor}\u0000${r.action}\u0000${r.target ?? ''}`));
    let n = 0;
    for (const e of entries) {
      if (seen.has(`${e.time}\u0000${e.actor}\u0000${e.action}\u0000${e.target ?? ''}`)) continue;
      await this.record(e);
      n++;
    }
    return n;
  }

  async list(f: AuditFilter = {}): Promise<AuditEntry[]> {
    let q = this.db.selectFrom('audit').selectAll();
    if (f.actor) q = q.where('actor', '=', f.actor);
    if (f.action) q = q.where('action', 'like', `${f.action.replace(/[%_]/g, '')}%`);
    if (f.since) q = q.where('time', '>=', f.since);
    const rows = await q.orderBy('id', 'desc').limit(f.limit ?? 200).execute();
    return rows.map((r) => ({ id: r.id, time: r.time, actor: r.actor, action: r.action, target: r.target, ip: r.ip, outcome: r.outcome, details: r.details ? (JSON.parse(r.details) as Record<string, unknown>) : null }));
  }
}
