import { test } from 'node:test';
import assert from 'node:assert/strict';
import { childEnv, isOwnCredentialVar, redactSecrets, registerEnvironmentSecrets, registerSecret } from './secrets.js';

test('child processes get an allow-listed environment: no Strongbox or object-store credentials, whatever STRONGBOX_CHILD_ENV says', () => {
  const saved = { ...process.env };
  try {
    Object.assign(process.env, {
      STRONGBOX_PASSWORD: 'repo-pass-1',
      STRONGBOX_ADMIN_PASSWORD: 'admin-pass-1',
      AWS_SECRET_ACCESS_KEY: 'aws-key-1',
      AZURE_STORAGE_KEY: 'azure-key-1',
      SOME_APP_TOKEN: 'app-token-1',
      LC_ALL: 'C.UTF-8',
      EXTRA_ONE: 'x',
      STRONGBOX_CHILD_ENV: 'EXTRA_ONE,AWS_SECRET_ACCESS_KEY',
    });
    const env = childEnv({ STRONGBOX_PHASE: 'preBackup' });
    assert.equal(env.PATH, process.env.PATH);
    assert.equal(env.LC_ALL, 'C.UTF-8');
    assert.equal(env.EXTRA_ONE, 'x');
    assert.equal(env.STRONGBOX_PHASE, 'preBackup');
    for (const k of ['STRONGBOX_PASSWORD', 'STRONGBOX_ADMIN_PASSWORD', 'AWS_SECRET_ACCESS_KEY', 'AZURE_STORAGE_KEY', 'SOME_APP_TOKEN', 'STRONGBOX_CHILD_ENV']) assert.equal(env[k], undefined, k);
  } finally {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
  }
});

test('every credential in the environment, and every registered secret, is masked', () => {
  registerEnvironmentSecrets({ MY_DB_PASSWORD: 'db-pass-xyz', AWS_SECRET_ACCESS_KEY: 'aws-abc-123', HARMLESS: 'plain-value' });
  registerSecret('stored-secret-42');
  registerSecret('abc'); // too short to mask
  assert.equal(redactSecrets('a db-pass-xyz b aws-abc-123 c stored-secret-42 d plain-value abc'), 'a *** b *** c *** d plain-value abc');
});

test("Strongbox's own variables and its stores' credentials are recognised", () => {
  for (const k of ['STRONGBOX_PASSWORD', 'STRONGBOX_ARCHIVE_PASSWORD', 'AWS_SECRET_ACCESS_KEY', 'AZURE_STORAGE_CONNECTION_STRING']) assert.equal(isOwnCredentialVar(k), true, k);
  for (const k of ['NOTES_DB_PASSWORD', 'PATH']) assert.equal(isOwnCredentialVar(k), false, k);
});
