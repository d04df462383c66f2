import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as path from 'node:path';
import { test } from 'node:test';
import { describeTree, tmp } from './testing/cli.js';
import { launch, screenshotPath, assertNoConsoleErrors } from './testing/browser.js';
import { ADMIN_PASSWORD, prepareInstance, startServe } from './testing/server.js';

const EXAMPLE = fileURLToPath(new URL('../../../examples/notes/notes.yaml', import.meta.url));

test('console: sign in, see the dashboard, take a snapshot and watch it complete, schedule it; a viewer sees no actions', async () => {
  const root = tmp();
  const data = path.join(root, 'data');
  mkdirSync(path.join(data, 'docs'), { recursive: true });
  for (let i = 0; i < 50; i++) writeFileSync(path.join(data, 'docs', `page-${i}.md`), `# Page ${i}\n${'text '.repeat(2000)}\n`);
  await prepareInstance(root, {
    notes: `apiVersion: strongbox/v1\nkind: Application\nmetadata: { name: notes, version: "1.4.2" }\nspec:\n  components:\n    - name: uploads\n      files: { path: ${data} }\n    - name: export\n      command:\n        backup: ["sh", "-c", "head -c 3000000 /dev/urandom"]\n        restore: ["sh", "-c", "cat > /dev/null"]\n`,
  });
  const browser = await launch();
  const srv = await startServe(root).catch(async (err: unknown) => {
    await browser.close();
    throw err;
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(srv.url);
    await page.getByLabel('User').fill('admin');
    await page.getByLabel('Password').fill('wrong password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'Wrong user name or password' }).waitFor();
    await page.getByLabel('Password').fill(ADMIN_PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
    await page.getByRole('region', { name: 'Application notes' }).getByText('none yet').waitFor();

    // A snapshot from the dashboard: the job opens live and completes.
    await page.getByRole('button', { name: 'Create snapshot' }).click();
    await page.getByLabel('Tags (comma-separated)').fill('from-console');
    await page.getByRole('button', { name: 'Start' }).click();
    await page.waitForURL(/#\/job\//);
    await page.getByRole('status').filter({ hasText: 'completed' }).waitFor({ timeout: 60000 });
    await page.getByLabel('Job log').getByText(/notes\/export: done/).waitFor();
    const rows = page.getByRole('table', { name: 'Components' }).getByRole('row');
    assert.equal(await rows.count(), 3);
    await page.screenshot({ path: screenshotPath('job'), fullPage: true });
    await page.getByRole('link', { name: /^[0-9a-f]{8}$/ }).click();
    await page.getByRole('heading', { name: /Snapshot [0-9a-f]{8}/ }).waitFor();
    await page.getByText('notes/uploads: done').waitFor();
    await page.getByRole('img', { name: /notes\/export: from \+[\d.]+ s for [\d.]+ s/ }).waitFor();
    await page.screenshot({ path: screenshotPath('snapshot'), fullPage: true });
    await page.getByRole('button', { name: 'Pin' }).click();
    await page.getByRole('button', { name: 'Unpin' }).waitFor();

    // Download as an archive.
    await page.getByRole('button', { name: 'Download…' }).click();
    await page.getByLabel(/Archive password/).fill('archive password 1');
    await page.getByRole('button', { name: 'Prepare archive' }).click();
    const saving = page.waitForEvent('download');
    await page.getByRole('link', { name: /^Save strongbox-[0-9a-f]{8}\.sbx/ }).click();
    const file = path.join(root, 'from-console.sbx');
    await (await saving).saveAs(file);
    assert.ok(statSync(file).size > 100_000);
    const snapshotUrl = page.url();

    // Restore with the wizard: first into the original (not empty: refused), then mapped to a new directory.
    await page.getByRole('link', { name: 'Restore…' }).click();
    await page.getByRole('heading', { name: /Restore snapshot/ }).waitFor();
    await page.getByRole('button', { name: 'Check (dry run)' }).click();
    await page.getByRole('heading', { name: 'The preflight found problems' }).waitFor({ timeout: 30000 });
    await page.getByText(/is not empty/).first().waitFor();
    const target = path.join(root, 'restored');
    await page.getByLabel(/Restore uploads to/).fill(target);
    await page.getByLabel('export (command)').uncheck();
    await page.getByRole('button', { name: 'Check (dry run)' }).click();
    await page.getByRole('heading', { name: 'The preflight passed' }).waitFor({ timeout: 30000 });
    await page.screenshot({ path: screenshotPath('restore'), fullPage: true });
    const restoreNow = page.getByRole('button', { name: 'Restore now' });
    assert.equal(await restoreNow.isDisabled(), true, 'disabled until the name is typed');
    await page.getByLabel('Type notes to restore').fill('notes');
    await restoreNow.click();
    await page.waitForURL(/#\/job\//);
    await page.getByRole('status').filter({ hasText: 'completed' }).waitFor({ timeout: 60000 });
    assert.deepEqual(await describeTree(target), await describeTree(data));
    await page.goto(snapshotUrl);

    await page.getByRole('link', { name: 'Snapshots' }).click();
    await page.getByRole('cell', { name: 'from-console' }).waitFor();
    await page.screenshot({ path: screenshotPath('snapshots'), fullPage: true });
    await page.getByLabel('To (date)').fill('2001-01-01');
    await page.getByText('No snapshot matches these filters.').waitFor();
    await page.getByLabel('To (date)').fill('');

    // A schedule with a preview of its next runs.
    await page.getByRole('link', { name: 'Schedules' }).click();
    await page.getByLabel('Name').fill('notes-nightly');
    await page.getByLabel('When (hourly, daily, weekly or cron)').fill('30 2 * * 1-5');
    await page.getByLabel('Time zone').fill('Europe/Paris');
    await page.getByText(/every weekday at 02:30 \(Europe\/Paris\); next:/).waitFor();
    await page.getByLabel('When (hourly, daily, weekly or cron)').fill('every day');
    await page.getByText(/is not a schedule/).waitFor();
    await page.getByLabel('When (hourly, daily, weekly or cron)').fill('daily');
    await page.getByRole('button', { name: 'Add schedule' }).click();
    await page.getByRole('cell', { name: 'notes-nightly' }).waitFor();
    await page.getByRole('row', { name: /notes-nightly/ }).getByRole('button', { name: 'Preview retention' }).click();
    // A new schedule's retention applies only to the snapshots it makes: it has none yet.
    await page.getByRole('region', { name: 'Retention of notes-nightly' }).getByText(/has made no snapshots yet/).waitFor();
    await page.getByLabel('Name').fill('upkeep');
    await page.getByLabel('What').selectOption('__maintenance');
    await page.getByLabel('When (hourly, daily, weekly or cron)').fill('weekly');
    await page.getByRole('button', { name: 'Add schedule' }).click();
    await page.getByRole('row', { name: /upkeep maintenance/ }).waitFor();
    await page.screenshot({ path: screenshotPath('schedules'), fullPage: true });
    await page.getByRole('link', { name: 'Dashboard' }).click();
    await page.getByRole('region', { name: 'Application notes' }).getByText(/every day at 02:00/).waitFor();
    // A second snapshot, so the growth chart has a line.
    await page.getByRole('button', { name: 'Create snapshot' }).click();
    await page.getByRole('button', { name: 'Start' }).click();
    await page.getByRole('status').filter({ hasText: 'completed' }).waitFor({ timeout: 60000 });
    await page.getByRole('link', { name: 'Dashboard' }).click();
    await page.getByRole('img', { name: /Stored data grew to .* over 2 snapshots/ }).waitFor();
    await page.screenshot({ path: screenshotPath('dashboard'), fullPage: true });

    // Users, tokens and the audit log (admin).
    await page.getByRole('link', { name: 'Users and tokens' }).click();
    await page.getByLabel('New user').fill('vera');
    await page.getByRole('form', { name: 'Add a user' }).getByLabel('Role', { exact: true }).selectOption('viewer');
    await page.getByLabel(/One-time password/).fill('viewer-password');
    await page.getByRole('button', { name: 'Add user' }).click();
    await page.getByRole('table', { name: 'Users' }).getByText('vera').waitFor();
    await page.getByLabel('New token for scripts').fill('ci');
    await page.getByRole('button', { name: 'Create token' }).click();
    await page.getByRole('status').filter({ hasText: /it is not shown again: sbt_/ }).waitFor();
    await page.getByRole('link', { name: 'Audit log' }).click();
    await page.getByLabel('Action starts with').fill('user.');
    await page.getByRole('cell', { name: 'user.add' }).first().waitFor();
    await page.getByRole('row', { name: /user\.add vera/ }).waitFor();
    await page.screenshot({ path: screenshotPath('audit'), fullPage: true });

    // Settings: a webhook (its secret write-only), who may restore, maintenance now.
    await page.getByRole('link', { name: 'Settings' }).click();
    await page.getByRole('button', { name: 'Add a webhook' }).click();
    await page.getByLabel('Webhook URL').fill('https://hooks.example.org/strongbox');
    await page.getByLabel('Secret', { exact: true }).fill('hook-secret-1');
    await page.getByLabel(/Operators may restore/).check();
    await page.getByRole('button', { name: 'Save settings' }).click();
    await page.getByRole('status').filter({ hasText: 'Saved.' }).waitFor();
    await page.reload();
    assert.equal(await page.getByLabel('Webhook URL').inputValue(), 'https://hooks.example.org/strongbox');
    assert.equal(await page.getByLabel('Secret', { exact: true }).inputValue(), '***');
    assert.equal(await page.getByLabel(/Operators may restore/).isChecked(), true);
    await page.getByRole('button', { name: 'Run maintenance now' }).click();
    await page.getByRole('status').filter({ hasText: /Maintenance completed — reclaimed \d+ bytes/ }).waitFor({ timeout: 60000 });

    // A viewer on a narrow screen: first sign-in asks for a new password; then no buttons that would be refused.
    const viewer = await browser.newPage({ viewport: { width: 390, height: 844 } });
    await viewer.goto(srv.url);
    await viewer.getByLabel('User').fill('vera');
    await viewer.getByLabel('Password').fill('viewer-password');
    await viewer.getByRole('button', { name: 'Sign in' }).click();
    await viewer.getByRole('heading', { name: 'Choose a new password' }).waitFor();
    await viewer.getByLabel('One-time password').fill('viewer-password');
    await viewer.getByLabel('New password', { exact: true }).fill('viewer-password-2');
    await viewer.getByLabel('New password again').fill('viewer-password-2');
    await viewer.getByRole('button', { name: 'Save and continue' }).click();
    await viewer.getByRole('heading', { name: 'Dashboard' }).waitFor();
    assert.equal(await viewer.getByRole('button', { name: 'Create snapshot' }).count(), 0);
    await viewer.getByRole('link', { name: 'Snapshots' }).click();
    await viewer.getByRole('cell', { name: 'from-console' }).waitFor();
    await viewer.getByRole('link', { name: /^[0-9a-f]{8}$/ }).first().click();
    await viewer.getByRole('heading', { name: /Snapshot/ }).waitFor();
    assert.equal(await viewer.getByRole('button', { name: /Pin|Unpin|Delete/ }).count(), 0);
    await viewer.getByRole('link', { name: 'Schedules' }).click();
    await viewer.getByRole('cell', { name: 'notes-nightly' }).waitFor();
    assert.equal(await viewer.getByRole('button', { name: /Pause|Run now|Remove|Add schedule/ }).count(), 0);
    await viewer.screenshot({ path: screenshotPath('narrow-viewer'), fullPage: true });
    // Sign out ends the session.
    await viewer.getByRole('button', { name: 'Sign out' }).click();
    await viewer.getByRole('heading', { name: 'Sign in to Strongbox' }).waitFor();

    // A second instance: upload the archive (verified), restore it with the wizard into a clean directory.
    const root2 = tmp();
    await prepareInstance(root2);
    const srv2 = await startServe(root2);
    try {
      const p2 = await browser.newPage({ viewport: { width: 1280, height: 800 } });
      await p2.goto(srv2.url);
      await p2.getByLabel('User').fill('admin');
      await p2.getByLabel('Password').fill(ADMIN_PASSWORD);
      await p2.getByRole('button', { name: 'Sign in' }).click();

      // A destination, added and validated from the console; a bad one says what is wrong.
      await p2.getByRole('link', { name: 'Destinations' }).click();
      await p2.getByLabel('Name').fill('second');
      await p2.getByLabel('Location').fill('not/absolute');
      await p2.getByLabel(/Repository password/).fill('second repository password');
      await p2.getByRole('button', { name: 'Add and validate' }).click();
      await p2.getByRole('alert').filter({ hasText: 'neither an absolute path nor a store URL' }).waitFor();
      await p2.getByLabel('Location').fill(path.join(root2, 'second'));
      await p2.getByRole('button', { name: 'Add and validate' }).click();
      await p2.getByRole('status').filter({ hasText: /Added second: opened the repository with the password/ }).waitFor({ timeout: 30000 });
      await p2.getByRole('row', { name: /second/ }).getByRole('button', { name: 'Test' }).click();
      await p2.getByRole('status').filter({ hasText: /works: .*deleted it; 0 snapshot/ }).waitFor({ timeout: 30000 });
      // New secrets are validated first: a wrong password changes nothing.
      await p2.getByRole('row', { name: /second/ }).getByRole('button', { name: 'Edit secrets' }).click();
      await p2.getByLabel('New repository password').fill('not the repository password');
      await p2.getByRole('button', { name: 'Validate and save' }).click();
      await p2.getByRole('alert').filter({ hasText: /failed at "opened the repository with the password"/ }).waitFor({ timeout: 30000 });
      await p2.getByRole('button', { name: 'Cancel' }).click();
      await p2.getByRole('row', { name: /second/ }).getByRole('button', { name: 'Test' }).click();
      await p2.getByRole('status').filter({ hasText: /works: / }).waitFor({ timeout: 30000 });
      await p2.screenshot({ path: screenshotPath('destinations'), fullPage: true });

      // An application from the spec editor: problems at their lines, then added.
      await p2.getByRole('link', { name: 'Applications' }).click();
      const editor = p2.getByLabel('Spec (YAML)');
      await editor.fill(`apiVersion: strongbox/v1\nkind: Application\nmetadata: { name: wiki, version: "2.0" }\nspec:\n  components:\n    - name: pages\n      filez: { path: ${data} }\n`);
      await p2.getByText(/line \d+(:\d+)?: .*filez/).first().waitFor();
      assert.equal(await p2.getByRole('button', { name: 'Add application' }).isDisabled(), true);
      await editor.fill(`apiVersion: strongbox/v1\nkind: Application\nmetadata: { name: wiki, version: "2.0" }\nspec:\n  components:\n    - name: pages\n      files: { path: ${data} }\n`);
      await p2.getByText('valid: wiki 2.0').waitFor();
      await p2.getByRole('button', { name: 'Add application' }).click();
      await p2.getByRole('cell', { name: 'pages (files)' }).waitFor();
      await p2.getByRole('row', { name: /wiki/ }).getByText('none').waitFor();
      // The example application of the README, pasted in: valid, added, its hooks listed.
      await editor.fill(readFileSync(EXAMPLE, 'utf8'));
      await p2.getByText('valid: notes 1.4.2').waitFor();
      await p2.getByRole('button', { name: 'Add application' }).click();
      await p2.getByRole('row', { name: /notes 1\.4\.2/ }).getByText(/preBackup: maintenance-on/).waitFor();
      await p2.screenshot({ path: screenshotPath('applications'), fullPage: true });

      await p2.getByRole('link', { name: 'Upload' }).click();
      await p2.getByLabel('Archive file').setInputFiles(file);
      await p2.getByLabel("The archive's password").fill('not the password');
      await p2.getByRole('button', { name: 'Upload and verify' }).click();
      await p2.getByRole('alert').filter({ hasText: 'Nothing was imported' }).waitFor({ timeout: 30000 });
      await p2.getByLabel("The archive's password").fill('archive password 1');
      await p2.getByRole('button', { name: 'Upload and verify' }).click();
      await p2.getByRole('status').filter({ hasText: 'Verified and imported' }).waitFor({ timeout: 60000 });
      await p2.screenshot({ path: screenshotPath('upload'), fullPage: true });
      await p2.getByRole('status').getByRole('link').first().click();
      await p2.getByRole('link', { name: 'Restore…' }).click();
      const clean = path.join(root2, 'clean-target');
      await p2.getByLabel(/Restore uploads to/).fill(clean);
      await p2.getByLabel('export (command)').uncheck();
      await p2.getByRole('button', { name: 'Check (dry run)' }).click();
      await p2.getByRole('heading', { name: 'The preflight passed' }).waitFor({ timeout: 30000 });
      await p2.getByLabel('Type notes to restore').fill('notes');
      await p2.getByRole('button', { name: 'Restore now' }).click();
      await p2.getByRole('status').filter({ hasText: 'completed' }).waitFor({ timeout: 60000 });
      assert.deepEqual(await describeTree(clean), await describeTree(data));
      assertNoConsoleErrors();
    } finally {
      await srv2.stop();
    }
  } finally {
    await browser.close();
    await srv.stop();
  }
});
