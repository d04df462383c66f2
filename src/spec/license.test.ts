import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkEntitlement, generateVendorKeys, parseLicense, signLicense, type LicenseBody } from './license.js';

const vendor = generateVendorKeys();
const other = generateVendorKeys();
const now = new Date('2026-06-01T00:00:00Z');
const body = (over: Partial<LicenseBody> = {}): LicenseBody => ({ id: 'L1', licensee: 'ACME', product: 'notes', entitlements: ['snapshots'], issuedAt: '2026-01-01T00:00:00Z', expiresAt: '2027-01-01T00:00:00Z', ...over });
const app = { name: 'notes', publicKey: vendor.publicKey };

const cases: { name: string; docs: ReturnType<typeof signLicense>[]; ok: boolean; reason?: RegExp }[] = [
  { name: 'a valid license grants snapshots', docs: [signLicense(body(), vendor.privateKey)], ok: true },
  { name: 'no license', docs: [], ok: false, reason: /none is installed.*license install/ },
  { name: 'signed by another key', docs: [signLicense(body(), other.privateKey)], ok: false, reason: /none is installed/ },
  { name: 'for another product', docs: [signLicense(body({ product: 'wiki' }), vendor.privateKey)], ok: false, reason: /are for wiki, not "notes"/ },
  { name: 'without the entitlement', docs: [signLicense(body({ entitlements: ['support'] }), vendor.privateKey)], ok: false, reason: /does not grant the "snapshots"/ },
  { name: 'expired', docs: [signLicense(body({ expiresAt: '2026-05-01T00:00:00Z' }), vendor.privateKey)], ok: false, reason: /expired on 2026-05-01/ },
  { name: 'an expired and a valid one: valid wins', docs: [signLicense(body({ expiresAt: '2026-05-01T00:00:00Z' }), vendor.privateKey), signLicense(body({ id: 'L2' }), vendor.privateKey)], ok: true },
  {
    name: 'a tampered license (expiry extended after signing)',
    docs: [{ ...signLicense(body({ expiresAt: '2026-05-01T00:00:00Z' }), vendor.privateKey), license: body({ expiresAt: '2099-01-01T00:00:00Z' }) }],
    ok: false,
    reason: /none is installed/,
  },
];

for (const c of cases) {
  test(`license: ${c.name}`, () => {
    const v = checkEntitlement(app, c.docs, now);
    assert.equal(v.ok, c.ok, v.ok ? '' : v.reason);
    if (!v.ok && c.reason) assert.match(v.reason, c.reason);
  });
}

test('license: a document survives a JSON round trip and malformed files are refused', () => {
  const doc = signLicense(body(), vendor.privateKey);
  const back = parseLicense(JSON.stringify(doc, null, 2));
  assert.equal(checkEntitlement(app, [back], now).ok, true);
  assert.throws(() => parseLicense('hello'), /not JSON/);
  assert.throws(() => parseLicense('{"format":"x"}'), /not a Strongbox license/);
});
