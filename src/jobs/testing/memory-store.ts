import type { JobFilter, JobLogLine, JobRecord, JobStore } from '../job.js';

/** A JobStore in memory, for tests of the runner. */
export class MemoryJobStore implements JobStore {
  readonly jobs = new Map<string, JobRecord>();
  readonly logs = new Map<string, JobLogLine[]>();

  async insert(j: JobRecord): Promise<void> {
    this.jobs.set(j.id, structuredClone(j));
  }
  async update(id: string, patch: Partial<JobRecord>): Promise<void> {
    const j = this.jobs.get(id);
    if (j) this.jobs.set(id, { ...j, ...structuredClone(patch) });
  }
  async get(id: string): Promise<JobRecord | undefined> {
    return this.jobs.get(id);
  }
  async list(f: JobFilter = {}): Promise<JobRecord[]> {
    return [...this.jobs.values()].filter((j) => (!f.app || j.app === f.app) && (!f.kind || j.kind === f.kind) && (!f.phase || j.phase === f.phase));
  }
  async appendLog(id: string, lines: JobLogLine[]): Promise<void> {
    this.logs.set(id, [...(this.logs.get(id) ?? []), ...lines]);
  }
  async log(id: string, afterSeq = 0): Promise<JobLogLine[]> {
    return (this.logs.get(id) ?? []).filter((l) => l.seq > afterSeq);
  }
  async unfinished(): Promise<JobRecord[]> {
    return [...this.jobs.values()].filter((j) => j.phase === 'queued' || j.phase === 'running');
  }
}
