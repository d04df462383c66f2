import { Command, CommanderError } from 'commander';
import { errorTable, toAppError } from '../kernel/index.js';
import { setStorageLog, tuneProcess, VERSION } from '../app/index.js';
import { repoCommand } from './commands/repo.js';
import { outcome, snapshotCommand } from './commands/snapshot.js';
import { destinationCommand } from './commands/destination.js';
import { appCommand } from './commands/app.js';
import { drillCommand } from './commands/drill.js';
import { serveCommand } from './commands/serve.js';
import { jobCommand } from './commands/job.js';
import { scheduleCommand } from './commands/schedule.js';
import { auditCommand, tokenCommand, userCommand } from './commands/users.js';
import { licenseCommand } from './commands/license.js';

/** Exit codes, documented in docs/CLI.md and stable across versions. */
export function buildProgram(): Command {
  const program = new Command('strongbox')
    .description('Encrypted, deduplicated snapshots: backup, restore and disaster recovery for self-hosted applications.')
    .version(VERSION, '-V, --version')
    .option('-r, --repo <location>', 'repository location (env STRONGBOX_REPO)')
    .option('-d, --destination <name>', 'use a named destination instead of --repo (env STRONGBOX_DESTINATION; default: the default destination)')
    .option('--password-file <file>', 'read the repository password from a file (env STRONGBOX_PASSWORD or STRONGBOX_PASSWORD_FILE; prompted on a terminal otherwise)')
    .option('--server <url>', 'talk to a running "strongbox serve" instead of working locally (env STRONGBOX_SERVER)')
    .option('--token <token>', 'the API token for --server (env STRONGBOX_TOKEN; "strongbox token create")')
    .option('--json', 'machine-readable JSON on stdout')
    .option('-q, --quiet', 'no progress or warnings on stderr')
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText(
      'after',
      `
Getting started:
  strongbox destination add main /srv/backups/repo --init   # or s3://…, azure://…, sftp://… (docs/DESTINATIONS.md)
  strongbox snapshot create --path /srv/app
  strongbox app add -f examples/notes/notes.yaml             # an application: databases, files, hooks
  strongbox snapshot create --app notes
  strongbox snapshot list
  strongbox snapshot restore latest --dry-run                # checks every target first

Or without an instance: --repo LOCATION (STRONGBOX_REPO) with STRONGBOX_PASSWORD.

Exit codes: 0 ok, 1 error, 2 usage or invalid spec, 3 done but some files or components failed,
4 restore preflight found targets in the way, 10 no repository, 11 locked, 12 wrong password,
13 not signed in / not allowed (server), 14 too many sign-in failures, 15 license required,
16 server unreachable, 130 cancelled.`,
    );
  program.addCommand(repoCommand());
  program.addCommand(snapshotCommand());
  program.addCommand(destinationCommand());
  program.addCommand(appCommand());
  program.addCommand(drillCommand());
  program.addCommand(serveCommand());
  program.addCommand(jobCommand());
  program.addCommand(scheduleCommand());
  program.addCommand(userCommand());
  program.addCommand(tokenCommand());
  program.addCommand(licenseCommand());
  program.addCommand(auditCommand());
  program.exitOverride();
  for (const c of allCommands(program)) c.exitOverride();
  return program;
}

function allCommands(c: Command): Command[] {
  return c.commands.flatMap((s) => [s, ...allCommands(s)]);
}

export async function main(argv: string[]): Promise<number> {
  tuneProcess();
  // `strongbox … | head` closes the pipe early: that is the reader's choice, not an error.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
  const program = buildProgram();
  const json = argv.includes('--json');
  if (!argv.includes('-q') && !argv.includes('--quiet')) setStorageLog((line) => process.stderr.write(line + '\n'));
  try {
    await program.parseAsync(argv);
    return outcome.exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return 0;
      return errorTable.USAGE.exit;
    }
    const e = toAppError(err);
    const reported = e.details?.reported === true;
    if (json) process.stderr.write(JSON.stringify({ error: { code: e.code, message: e.message } }) + '\n');
    else if (!reported || e.code !== 'CHECK_FAILED') process.stderr.write(`strongbox: ${e.message}\n`);
    if (e.code === 'INTERNAL' && process.env.STRONGBOX_DEBUG) process.stderr.write(`${(err as Error).stack}\n`);
    return errorTable[e.code].exit;
  }
}
