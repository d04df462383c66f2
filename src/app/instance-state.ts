import { AppError } from '../kernel/index.js';
import { openSealed, seal } from '../repo/index.js';
import { loadApplication } from '../spec/index.js';
import type { InstanceRestorer } from '../engine/index.js';
import type { PasswordRef } from '../catalog/index.js';
import type { Instance, InstanceExport } from './instance.js';

/**
 * Brings a full snapshot's instance state into this instance (disaster
 * recovery onto a fresh machine, or a merge into a running one): applications
 * and destinations it lacks are added; ones it has are kept as they are and
 * reported. Sealed passwords are opened with the snapshot's instance key and
 * sealed again with this instance's key.
 */
export function instanceRestorer(inst: Instance): InstanceRestorer {
  const decide = async (files: Map<string, Buffer>, apply: boolean): Promise<string[]> => {
    const raw = files.get('instance.json');
    if (!raw) throw new AppError('CORRUPT', 'The full snapshot has no instance.json.');
    const state = JSON.parse(raw.toString('utf8')) as InstanceExport;
    if (state.format !== 1) throw new AppError('UNSUPPORTED_VERSION', `The snapshot's instance state has format ${state.format}; this Strongbox reads format 1.`);
    const oldKey = files.get('instance.key');
    const lines: string[] = [];
    for (const a of state.applications) {
      const have = await inst.applications.find(a.name);
      if (!have) {
        loadApplication(a.specText, `application ${a.name} in the snapshot`);
        if (apply) await inst.applications.put(a.name, a.version, a.specText, false);
        lines.push(`${apply ? 'added' : 'add'} application ${a.name} ${a.version}`);
      } else lines.push(`keep application ${a.name}: this instance has it already${have.specText === a.specText ? '' : ` (its spec differs from the snapshot's; "strongbox app show ${a.name}")`}`);
    }
    const current = await inst.destinations.list();
    for (const d of state.destinations) {
      if (current.some((c) => c.name === d.name)) {
        lines.push(`keep destination ${d.name}: this instance has it already`);
        continue;
      }
      const same = current.find((c) => c.location === d.location);
      if (same) {
        lines.push(`skip destination ${d.name}: this instance reaches ${d.location} already as "${same.name}"`);
        continue;
      }
      // Sealed secrets are opened with the snapshot's instance key and sealed again with ours.
      const reseal = (ref: PasswordRef): PasswordRef => {
        if (ref.type !== 'sealed') return ref;
        if (!oldKey) throw new AppError('CORRUPT', 'The full snapshot has sealed secrets but no instance.key.');
        const plain = openSealed(oldKey, Buffer.from(ref.sealed, 'base64'), 'stored secret');
        return { type: 'sealed', sealed: seal(inst.key, plain).toString('base64') };
      };
      const password = reseal(d.password);
      const credentials = d.credentials?.secret ? { ...d.credentials, secret: reseal(d.credentials.secret) } : d.credentials;
      const makeDefault = d.isDefault && !current.some((c) => c.isDefault);
      if (apply) await inst.destinations.add({ name: d.name, kind: d.kind as 'local' | 's3' | 'azure' | 'sftp', location: d.location, password, isDefault: makeDefault, ...(credentials ? { credentials } : {}) });
      lines.push(`${apply ? 'added' : 'add'} destination ${d.name} (${d.location})${makeDefault ? ' as the default' : ''}`);
    }
    return lines;
  };
  return { plan: (f) => decide(f, false), apply: (f) => decide(f, true) };
}

/** The stored specs of the named applications (all when none named), parsed. */
export async function loadSpecs(inst: Instance, names: string[] | undefined) {
  const stored = names?.length ? await Promise.all(names.map((n) => inst.applications.get(n))) : await inst.applications.list();
  return stored.map((a) => loadApplication(a.specText, `application ${a.name}`));
}
