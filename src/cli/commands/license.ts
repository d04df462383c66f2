import { Command } from 'commander';
import { readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { AppError, systemClock } from '../../kernel/index.js';
import { fingerprint, generateVendorKeys, parseLicense, signLicense } from '../../operations/index.js';
import { table } from '../render.js';
import { answer, collect, output, rendered, withOperations } from '../context.js';

function days(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new AppError('USAGE', `--days expects a whole number ≥ 1, got "${v}".`);
  return n;
}

export function licenseCommand(): Command {
  const lic = new Command('license').description('Vendor licenses: applications whose spec names a vendor key need one to be snapshotted');

  lic
    .command('install <file>')
    .description('Install a license file from the application\'s vendor (checked against the vendor keys of this instance\'s applications)')
    .action((file: string, _o: unknown, cmd: Command) =>
      withOperations(cmd, async (ops, out) => {
        const text = readFileSync(file, 'utf8');
        parseLicense(text);
        const r = await ops.installLicense(text);
        if (out.json) return out.data({ installed: r.installed, product: r.product, expiresAt: r.expiresAt, keyFingerprint: r.keyFingerprint });
        out.out(`Installed license ${r.installed} for ${r.product} (vendor key ${r.keyFingerprint}), valid until ${r.expiresAt}`);
      }),
    );

  lic
    .command('list')
    .description('Installed licenses')
    .action(
      rendered(
        (ops) => ops.listLicenses(),
        (out, list) => {
          if (list.length === 0) return out.out('No licenses installed.');
          out.out(table(list.map((l) => [l.id, l.licensee, l.product, l.entitlements.join(','), l.expiresAt.slice(0, 10), Date.parse(l.expiresAt) < systemClock.now().getTime() ? 'EXPIRED' : 'valid', l.keyFingerprint]), ['ID', 'Licensee', 'Product', 'Entitlements', 'Expires', 'State', 'Vendor key']));
        },
        (list) => list.map((l) => ({ ...l, installedAt: undefined })),
      ),
    );

  lic
    .command('remove <id>')
    .description('Remove an installed license')
    .action(answer((ops, id: string) => ops.removeLicense(id), (_r, id) => `Removed license ${id}`));

  lic
    .command('keygen')
    .description('For vendors: make an Ed25519 key pair; the private key goes to a file (keep it secret), the public key into your application spec')
    .requiredOption('--private-key <file>', 'where to write the private key (created 0600; never overwritten)')
    .action((o: { privateKey: string }, cmd: Command) => {
      const out = output(cmd);
      const k = generateVendorKeys();
      writeFileSync(o.privateKey, k.privateKey + '\n', { mode: 0o600, flag: 'wx' });
      if (out.json) return out.data({ publicKey: k.publicKey, fingerprint: fingerprint(k.publicKey), privateKeyFile: o.privateKey });
      out.out(`Private key written to ${o.privateKey} (keep it secret).\nPut the public key in your application spec:\n\nspec:\n  license:\n    publicKey: ${k.publicKey}\n`);
    });

  lic
    .command('sign')
    .description('For vendors: issue a license signed with your private key')
    .requiredOption('--private-key <file>', 'your private key (from "license keygen")')
    .requiredOption('--licensee <name>', 'who the license is for')
    .requiredOption('--product <name>', 'the product (the application\'s name, or spec.license.product)')
    .option('--entitlement <name>', 'what it grants (repeat; default snapshots)', collect)
    .option('--days <n>', 'valid for this many days', days, 365)
    .option('--id <id>', 'license id (default: random)')
    .requiredOption('-o, --output <file>', 'where to write the license')
    .addHelpText('after', '\nExample:\n  strongbox license keygen --private-key vendor.key\n  strongbox license sign --private-key vendor.key --licensee "ACME Corp" --product notes --days 365 -o acme.license\n  # the customer: strongbox license install acme.license')
    .action((o: { privateKey: string; licensee: string; product: string; entitlement?: string[]; days: number; id?: string; output: string }, cmd: Command) => {
      const out = output(cmd);
      const now = systemClock.now();
      const doc = signLicense(
        { id: o.id ?? `lic_${randomBytes(6).toString('hex')}`, licensee: o.licensee, product: o.product, entitlements: o.entitlement ?? ['snapshots'], issuedAt: now.toISOString(), expiresAt: new Date(now.getTime() + o.days * 86400e3).toISOString() },
        readFileSync(o.privateKey, 'utf8'),
      );
      writeFileSync(o.output, JSON.stringify(doc, null, 2) + '\n', { flag: 'wx' });
      if (out.json) return out.data(doc);
      out.out(`Wrote license ${doc.license.id} for ${doc.license.licensee} (${doc.license.product}, ${doc.license.entitlements.join(', ')}) valid until ${doc.license.expiresAt} to ${o.output}`);
    });
  return lic;
}
