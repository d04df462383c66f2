import { redactSecrets, type ProgressSink } from '../../kernel/index.js';
import { blobId, type Repository } from '../../repo/index.js';
import type { BackupRun } from '../backup/backup.js';

const MAX_LOG_BYTES = 4 * 1024 * 1024;

/** The log of an application run: forwarded live to the sink and kept (bounded) for `snapshot logs`. */
export class RunLog {
  private readonly lines: string[] = [];
  private bytes = 0;
  private dropped = 0;
  constructor(
    private readonly sink: ProgressSink,
    private readonly now: () => Date,
  ) {}

  line(raw: string): void {
    const text = redactSecrets(raw);
    const time = this.now().toISOString();
    this.sink.emit({ type: 'log', time, line: text });
    const l = `${time} ${text}`;
    if (this.bytes + l.length > MAX_LOG_BYTES) {
      this.dropped++;
      return;
    }
    this.lines.push(l);
    this.bytes += l.length + 1;
  }

  text(): string[] {
    return [...this.lines];
  }

  /** Stores the log as data blobs; returns their ids in order. */
  async save(run: BackupRun, repo: Repository): Promise<string[]> {
    if (this.dropped > 0) this.lines.push(`(${this.dropped} more line(s) not kept: the log is limited to ${MAX_LOG_BYTES / 1024 / 1024} MiB)`);
    const data = Buffer.from(this.lines.join('\n') + '\n');
    const id = blobId(repo.master.mac, data);
    await run.saver.save('data', id, data);
    return [id.toString('hex')];
  }
}
