import { AppError } from '../kernel/index.js';
import { fingerprint, parseLicense, signatureValid, type LicenseBody } from '../spec/license.js';
import { audit, needInstance, type Caller, type Env } from './context.js';
import { specLanguage } from './on-demand.js';

/** Vendor licenses of this instance: install (checked against its applications' vendor keys), list, remove. */

export type InstalledLicense = LicenseBody & { keyFingerprint: string; installedAt: string };

export async function listLicenses(env: Env): Promise<InstalledLicense[]> {
  return (await needInstance(env).licenses.list()).map((l) => ({ ...parseLicense(l.document).license, keyFingerprint: l.keyFingerprint, installedAt: l.installedAt }));
}

/** Installs a license document; its signature must match the vendor key of an application of this instance. */
export async function installLicense(env: Env, text: string, caller: Caller): Promise<LicenseBody & { installed: string; keyFingerprint: string }> {
  const inst = needInstance(env);
  const doc = parseLicense(text);
  const { loadApplication } = await specLanguage();
  const keys = new Set<string>();
  for (const a of await inst.applications.list()) {
    const k = loadApplication(a.specText, a.name).spec.license?.publicKey;
    if (k) keys.add(k);
  }
  const key = [...keys].find((k) => signatureValid(doc, k));
  if (!key) {
    await audit(env, caller, 'license.install', doc.license.id, 'refused');
    throw new AppError('INVALID_ARGUMENT', keys.size === 0 ? 'No application of this instance names a vendor key, so no license can be checked: add the vendor\'s application spec first.' : `The license's signature does not match the vendor key of any application here (${[...keys].map(fingerprint).join(', ')}); it was changed, or is for another vendor.`);
  }
  await inst.licenses.put({ id: doc.license.id, keyFingerprint: fingerprint(key), licensee: doc.license.licensee, document: text, installedAt: env.clock.now().toISOString() });
  await audit(env, caller, 'license.install', doc.license.id, 'ok', { product: doc.license.product, expiresAt: doc.license.expiresAt });
  return { installed: doc.license.id, ...doc.license, keyFingerprint: fingerprint(key) };
}

export async function removeLicense(env: Env, id: string, caller: Caller): Promise<{ removed: string }> {
  if (!(await needInstance(env).licenses.remove(id))) throw new AppError('NOT_FOUND', `No license "${id}".`);
  await audit(env, caller, 'license.remove', id, 'ok');
  return { removed: id };
}
