import { AppError, systemClock } from '../kernel/index.js';
import type { Catalog } from './database.js';

export interface StoredApplication {
  name: string;
  version: string;
  specText: string;
  createdAt: string;
  updatedAt: string;
}

/** The applications part of the catalog: specs as written, by name. Validation happens before they get here. */
export class ApplicationStore {
  constructor(private readonly db: Catalog) {}

  async list(): Promise<StoredApplication[]> {
    return (await this.db.selectFrom('applications').selectAll().orderBy('name').execute()).map((r) => ({ name: r.name, version: r.version, specText: r.spec_text, createdAt: r.created_at, updatedAt: r.updated_at }));
  }

  async find(name: string): Promise<StoredApplication | undefined> {
    return (await this.list()).find((a) => a.name === name);
  }

  async get(name: string): Promise<StoredApplication> {
    const a = await this.find(name);
    if (!a) {
      const names = (await this.list()).map((x) => x.name);
      throw new AppError('NOT_FOUND', `No application "${name}". ${names.length ? `Known: ${names.join(', ')}.` : 'Add one with "strongbox app add -f SPEC.yaml".'}`);
    }
    return a;
  }

  /** Adds a spec; an existing name is refused unless `replace`. */
  async put(name: string, version: string, specText: string, replace: boolean): Promise<'added' | 'replaced'> {
    const now = systemClock.now().toISOString();
    const existing = await this.find(name);
    if (existing && !replace) throw new AppError('CONFLICT', `Application "${name}" exists already; use --replace to update its spec.`);
    if (existing) {
      await this.db.updateTable('applications').set({ version, spec_text: specText, updated_at: now }).where('name', '=', name).execute();
      return 'replaced';
    }
    await this.db.insertInto('applications').values({ name, version, spec_text: specText, created_at: now, updated_at: now }).execute();
    return 'added';
  }

  async remove(name: string): Promise<void> {
    await this.get(name);
    await this.db.deleteFrom('applications').where('name', '=', name).execute();
  }
}
