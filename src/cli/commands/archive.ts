import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { AppError, registerSecret } from '../../kernel/index.js';
import { downloadSnapshot, openRepository, uploadArchive } from '../../app/index.js';
import { findSnapshot } from '../../tree/index.js';
import { formatBytes, ProgressBar } from '../render.js';
import { globals, interruptSignal, output, resolveRepo, withInstance, withPool, withRepo } from '../context.js';
import { remote } from '../remote.js';
import { remoteDownload, remoteUpload } from './remote-snapshot.js';

/** The archive's password: --archive-password-file, STRONGBOX_ARCHIVE_PASSWORD, or (by default) the repository's. */
function archivePassword(o: { archivePasswordFile?: string }, fallback: string): string {
  const pw = o.archivePasswordFile ? readFileSync(o.archivePasswordFile, 'utf8').replace(/\r?\n$/, '') : (process.env.STRONGBOX_ARCHIVE_PASSWORD ?? fallback);
  if (!pw) throw new AppError('PASSWORD_REQUIRED', 'The archive needs a password: --archive-password-file FILE or STRONGBOX_ARCHIVE_PASSWORD (with --server it is always needed: the server\'s repository password is not known here).');
  registerSecret(pw);
  return pw;
}

export function addArchiveCommands(snap: Command): void {
  snap
    .command('download <id>')
    .description('Write one snapshot, with all its data, into a single encrypted archive file')
    .requiredOption('-o, --output <file>', 'the archive file to write (it appears only when complete)')
    .option('--archive-password-file <file>', 'protect the archive with this password (default: the repository\'s; env STRONGBOX_ARCHIVE_PASSWORD)')
    .addHelpText('after', '\nThe archive holds its own key, so it can be restored anywhere with its password:\n  strongbox snapshot download latest -o notes.sbx\n  strongbox snapshot upload notes.sbx --to other-destination')
    .action(async (id: string, o: { output: string; archivePasswordFile?: string }, cmd: Command) => {
      const out = output(cmd);
      const c = remote(cmd);
      if (c) return remoteDownload(c, out, id, { output: o.output, password: archivePassword(o, ''), ...(globals(cmd).destination ? { destination: globals(cmd).destination! } : {}) });
      const { signal, dispose } = interruptSignal();
      try {
        const { password } = await resolveRepo(cmd);
        await withRepo(
          cmd,
          (repo) =>
            withPool(repo, async (pool) => {
              const s = await findSnapshot(repo, id);
              const bar = new ProgressBar('writing archive', out);
              const res = await downloadSnapshot({ source: repo, sourcePool: pool, snapshot: s, file: resolvePath(o.output), password: archivePassword(o, password), sink: bar, signal });
              bar.clear();
              if (out.json) return out.data({ source: s.id, ...res });
              out.out(`Wrote snapshot ${s.id.slice(0, 8)} to ${res.file} (${formatBytes(res.bytes)})`);
            }),
          { loadIndex: true },
        );
      } finally {
        dispose();
      }
    });

  snap
    .command('upload <file>')
    .description('Import the snapshots of an archive file into a repository, after verifying every byte')
    .option('--to <destination>', 'the destination to import into (default: the usual repository)')
    .option('--archive-password-file <file>', 'the archive\'s password (default: the target repository\'s; env STRONGBOX_ARCHIVE_PASSWORD)')
    .addHelpText('after', '\nA truncated, corrupted or altered archive is refused before anything is written (exit 1).\nUploading the same archive again imports nothing.')
    .action(async (file: string, o: { to?: string; archivePasswordFile?: string }, cmd: Command) => {
      const out = output(cmd);
      const c = remote(cmd);
      if (c) return remoteUpload(c, out, file, { password: archivePassword(o, ''), ...(o.to ? { to: o.to } : {}) });
      const { signal, dispose } = interruptSignal();
      try {
        const target = o.to
          ? await withInstance(async (inst) => {
              const d = await inst.destinations.get(o.to!);
              return { location: d.location, password: inst.resolvePassword(d.password), credentials: inst.resolveCredentials(d) };
            })
          : await resolveRepo(cmd);
        const repo = await openRepository(target.location, target.password, { ...(target.credentials ? { credentials: target.credentials } : {}) });
        try {
          await withPool(repo, async (pool) => {
            const bar = new ProgressBar('importing', out);
            const res = await uploadArchive({ file: resolvePath(file), password: archivePassword(o, target.password), target: repo, targetPool: pool, sink: bar, signal });
            bar.clear();
            if (out.json) return out.data(res);
            out.out(`verified: ${res.inspected.snapshots} snapshot(s) expanding to ${res.inspected.files} file(s), ${res.inspected.dirs} dir(s), ${formatBytes(res.inspected.expandedBytes)}`);
            for (const c of res.copied) out.out(`imported snapshot ${c.target.slice(0, 8)} (verified)`);
            for (const c of res.skipped) out.out(`already there: ${c.target.slice(0, 8)}`);
            out.out(`${res.copied.length} imported, ${res.skipped.length} already there; stored ${formatBytes(res.storedBytesSent)} new`);
          });
        } finally {
          await repo.close();
        }
      } finally {
        dispose();
      }
    });
}
