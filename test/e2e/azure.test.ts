import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import { backendConformance } from '../../src/storage/testing/conformance.js';
import { AzureBackend, parseAzureLocation } from '../../src/storage/azure/azure-backend.js';
import { Cli, describeTree, tmp, writeRandom } from './testing/cli.js';
import { AZURITE_ACCOUNT, AZURITE_KEY, startAzurite, type Azurite } from './testing/azure.js';

let az: Azurite;
before(async () => {
  az = await startAzurite();
  const service = new BlobServiceClient(az.endpoint, new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY));
  await service.getContainerClient('backups').create();
});
after(async () => {
  await az.stop();
});

const loc = (prefix: string, container = 'backups') => `azure://${AZURITE_ACCOUNT}/${container}/${prefix}?endpoint=${encodeURIComponent(az.endpoint)}`;

backendConformance('azure (Azurite on loopback)', async () => new AzureBackend(parseAzureLocation(loc(`conf-${randomBytes(6).toString('hex')}`)), { accountKey: AZURITE_KEY }));

test('azure: init, snapshot, restore and a full read-back check against Azurite; a missing container and a wrong key are named', async () => {
  const root = tmp();
  const src = path.join(root, 'src');
  await writeRandom(path.join(src, 'big.bin'), 20 << 20, 7);
  for (let i = 0; i < 20; i++) await fs.writeFile(path.join(src, `f${i}.txt`), `file ${i}\n`.repeat(300));
  const cli = new Cli(loc('repo1'));
  const env = { ...az.env, STRONGBOX_STORAGE_ATTEMPTS: '2' };
  cli.ok(['repo', 'init'], env);
  const snap = cli.json<{ id: string }>(['snapshot', 'create', '--path', src], env);
  const out = path.join(root, 'out');
  cli.ok(['snapshot', 'restore', snap.id, '--target', out], env);
  assert.deepEqual(await describeTree(path.join(out, src)), await describeTree(src));
  assert.match(cli.ok(['repo', 'check', '--read-data'], env), /no errors were found/);

  const missing = new Cli(loc('x', 'no-such-container')).run(['repo', 'init'], env);
  assert.equal(missing.code, 10);
  assert.match(missing.stderr, /container "no-such-container" does not exist/);
  const wrongKey = cli.run(['snapshot', 'list'], { ...env, AZURE_STORAGE_KEY: Buffer.alloc(64, 1).toString('base64') });
  assert.equal(wrongKey.code, 1);
  assert.match(wrongKey.stderr, /Azure refused .*HTTP 403.*Check the account key/);
});

test('azure: a SAS token instead of the account key', async () => {
  const { AccountSASPermissions } = await import('@azure/storage-blob');
  const service = new BlobServiceClient(az.endpoint, new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY));
  const sas = new URL(service.generateAccountSasUrl(new Date(Date.now() + 3600_000), AccountSASPermissions.parse('rwdlac'), 'sco')).search.slice(1);
  const root = tmp();
  await fs.writeFile(path.join(root, 'f.txt'), 'with a SAS');
  const cli = new Cli(loc('sas-repo'));
  const env = { AZURE_STORAGE_SAS_TOKEN: sas, STRONGBOX_STORAGE_ATTEMPTS: '2' };
  cli.ok(['repo', 'init'], env);
  cli.ok(['snapshot', 'create', '--path', path.join(root, 'f.txt')], env);
  assert.match(cli.ok(['repo', 'check', '--read-data'], env), /no errors were found/);
});
