import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { AppError } from '../kernel/index.js';

/**
 * Vendor licenses: a JSON document signed with the vendor's Ed25519 key. An
 * application spec names the vendor's public key; its snapshots then need an
 * installed license, signed by that key, that grants "snapshots" for the
 * product and has not expired. Pure: a function of the document, the key and now.
 */
export interface LicenseBody {
  id: string;
  licensee: string;
  product: string;
  entitlements: string[];
  issuedAt: string;
  expiresAt: string;
}

export interface LicenseDocument {
  format: 'strongbox-license/1';
  license: LicenseBody;
  /** Ed25519 over canonical(license), base64. */
  signature: string;
}

/** JSON with keys in sorted order at every level: what is signed. */
export function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

export function publicKeyFromBase64(b64: string): KeyObject {
  const raw = Buffer.from(b64, 'base64');
  if (raw.length !== 32) throw new AppError('INVALID_ARGUMENT', 'An Ed25519 public key is 32 bytes (44 characters of base64).');
  return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
}

export function privateKeyFromBase64(b64: string): KeyObject {
  const raw = Buffer.from(b64.trim(), 'base64');
  if (raw.length !== 32) throw new AppError('INVALID_ARGUMENT', 'The signing key file does not hold an Ed25519 private key (32 bytes of base64, as "strongbox license keygen" writes it).');
  return createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, raw]), format: 'der', type: 'pkcs8' });
}

export function fingerprint(publicKeyB64: string): string {
  return createHash('sha256').update(Buffer.from(publicKeyB64, 'base64')).digest('hex').slice(0, 16);
}

/** A vendor's new key pair, both as base64 of the 32 raw bytes. */
export function generateVendorKeys(): { publicKey: string; privateKey: string } {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const pub = publicKey.export({ format: 'der', type: 'spki' }).subarray(SPKI_PREFIX.length);
  const priv = privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(PKCS8_PREFIX.length);
  return { publicKey: pub.toString('base64'), privateKey: priv.toString('base64') };
}

export function signLicense(body: LicenseBody, privateKeyB64: string): LicenseDocument {
  const signature = sign(null, Buffer.from(canonical(body)), privateKeyFromBase64(privateKeyB64)).toString('base64');
  return { format: 'strongbox-license/1', license: body, signature };
}

/** Parses a license file's text; a malformed one is refused with what is wrong. */
export function parseLicense(text: string): LicenseDocument {
  let doc: LicenseDocument;
  try {
    doc = JSON.parse(text) as LicenseDocument;
  } catch {
    throw new AppError('INVALID_ARGUMENT', 'This is not a Strongbox license: it is not JSON. A license file comes from the application\'s vendor ("strongbox license sign").');
  }
  const l = doc?.license;
  if (doc?.format !== 'strongbox-license/1' || !l || typeof doc.signature !== 'string') throw new AppError('INVALID_ARGUMENT', 'This is not a Strongbox license (format strongbox-license/1 with a license and a signature).');
  for (const k of ['id', 'licensee', 'product', 'issuedAt', 'expiresAt'] as const) if (typeof l[k] !== 'string' || !l[k]) throw new AppError('INVALID_ARGUMENT', `The license has no ${k}.`);
  if (!Array.isArray(l.entitlements)) throw new AppError('INVALID_ARGUMENT', 'The license has no entitlements list.');
  if (Number.isNaN(Date.parse(l.expiresAt))) throw new AppError('INVALID_ARGUMENT', `The license's expiresAt "${l.expiresAt}" is not a date.`);
  return doc;
}

export function signatureValid(doc: LicenseDocument, publicKeyB64: string): boolean {
  try {
    return verify(null, Buffer.from(canonical(doc.license)), publicKeyFromBase64(publicKeyB64), Buffer.from(doc.signature, 'base64'));
  } catch {
    return false;
  }
}

export type LicenseVerdict = { ok: true; license: LicenseBody } | { ok: false; reason: string };

/**
 * Whether some installed license lets this application be snapshotted now.
 * The reason names what is missing, for the operator to pass to the vendor.
 */
export function checkEntitlement(app: { name: string; publicKey: string; product?: string }, installed: LicenseDocument[], now: Date, entitlement = 'snapshots'): LicenseVerdict {
  const product = app.product ?? app.name;
  const fp = fingerprint(app.publicKey);
  const signed = installed.filter((d) => signatureValid(d, app.publicKey));
  if (signed.length === 0) return { ok: false, reason: `application "${app.name}" needs a license from its vendor (key ${fp}) and none is installed: install it with "strongbox license install FILE"` };
  const forProduct = signed.filter((d) => d.license.product === product);
  if (forProduct.length === 0) return { ok: false, reason: `the installed license(s) of vendor key ${fp} are for ${[...new Set(signed.map((d) => d.license.product))].join(', ')}, not "${product}"` };
  const granting = forProduct.filter((d) => d.license.entitlements.includes(entitlement));
  if (granting.length === 0) return { ok: false, reason: `the license for "${product}" does not grant the "${entitlement}" entitlement; ask the vendor for one that does` };
  const valid = granting.filter((d) => Date.parse(d.license.expiresAt) > now.getTime() && Date.parse(d.license.issuedAt) <= now.getTime() + 5 * 60e3);
  if (valid.length === 0) {
    const last = granting.map((d) => d.license.expiresAt).sort().at(-1)!;
    return { ok: false, reason: `the license for "${product}" expired on ${last}; install a renewed license ("strongbox license install FILE")` };
  }
  return { ok: true, license: valid.sort((a, b) => b.license.expiresAt.localeCompare(a.license.expiresAt))[0]!.license };
}
