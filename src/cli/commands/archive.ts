import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { registerSecret } from '../../kernel/index.js';
import { formatBytes } from '../render.js';
import { withOperations, withUi } from '../context.js';

/** The archive's password: --archive-password-file or STRONGBOX_ARCHIVE_PASSWORD; undefined: the repository's own (this machine only). */
function archivePassword(o: { archivePasswordFile?: string }): string | undefined {
  const pw = o.archivePasswordFile ? readFileSync(o.archivePasswordFile, 'utf8').replace(/\r?\n$/, '') : process.env.STRONGBOX_ARCHIVE_PASSWORD;
  if (pw) registerSecret(pw);
  return pw || undefined;
}

export function addArchiveCommands(snap: Command): void {
  snap
    .command('download <id>')
    .description('Write one snapshot, with all its data, into a single encrypted archive file')
    .requiredOption('-o, --output <file>', 'the archive file to write (it appears only when complete)')
    .option('--archive-password-file <file>', 'protect the archive with this password (default: the repository\'s; env STRONGBOX_ARCHIVE_PASSWORD)')
    .addHelpText('after', '\nThe archive holds its own key, so it can be restored anywhere with its password:\n  strongbox snapshot download latest -o notes.sbx\n  strongbox snapshot upload notes.sbx --to other-destination')
    .action((id: string, o: { output: string; archivePasswordFile?: string }, cmd: Command) =>
      withOperations(cmd, async (ops, out) => {
        const password = archivePassword(o);
        const res = await withUi(out, 'writing archive', (ui) => ops.downloadSnapshot(id, resolvePath(o.output), password, ui));
        if (out.json) return out.data(res);
        out.out(`Wrote snapshot ${res.source.slice(0, 8)} to ${res.file} (${formatBytes(res.bytes)})`);
      }),
    );

  snap
    .command('upload <file>')
    .description('Import the snapshots of an archive file into a repository, after verifying every byte')
    .option('--to <destination>', 'the destination to import into (default: the usual repository)')
    .option('--archive-password-file <file>', 'the archive\'s password (default: the target repository\'s; env STRONGBOX_ARCHIVE_PASSWORD)')
    .addHelpText('after', '\nA truncated, corrupted or altered archive is refused before anything is written (exit 1).\nUploading the same archive again imports nothing.')
    .action((file: string, o: { to?: string; archivePasswordFile?: string }, cmd: Command) =>
      withOperations(cmd, async (ops, out) => {
        const password = archivePassword(o);
        const res = await withUi(out, 'importing', (ui) => ops.uploadArchive(resolvePath(file), password, o.to, ui));
        if (out.json) return out.data(res);
        out.out(`verified: ${res.inspected.snapshots} snapshot(s) expanding to ${res.inspected.files} file(s), ${res.inspected.dirs} dir(s), ${formatBytes(res.inspected.expandedBytes)}`);
        for (const c of res.copied) out.out(`imported snapshot ${c.target.slice(0, 8)} (verified)`);
        for (const c of res.skipped) out.out(`already there: ${c.target.slice(0, 8)}`);
        out.out(`${res.copied.length} imported, ${res.skipped.length} already there; stored ${formatBytes(res.storedBytesSent)} new`);
      }),
    );
}
