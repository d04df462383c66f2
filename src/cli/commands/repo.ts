import { Command, Option } from 'commander';
import { AppError } from '../../kernel/index.js';
import { createRepository } from '../../operations/index.js';
import { getNewPassword, getPassword } from '../password.js';
import { formatBytes, table } from '../render.js';
import { answer, globals, output, rendered, repoLocation, withOperations, withUi } from '../context.js';

export function repoCommand(): Command {
  const repo = new Command('repo').description('Create, inspect, verify and maintain a repository');

  repo
    .command('init')
    .description('Create a new encrypted repository at --repo')
    .addOption(new Option('--pack-size <MiB>', 'target pack file size in MiB').default(16).argParser(Number))
    .addOption(new Option('--compression-level <N>', 'zstd level (1 fastest … 19 smallest)').default(3).argParser(Number))
    .addHelpText('after', '\nExample:\n  STRONGBOX_PASSWORD=… strongbox repo init --repo /mnt/backups/strongbox\n\nKeep the password safe: without it the data cannot be read by anyone, including you.')
    .action(async (o: { packSize: number; compressionLevel: number }, cmd: Command) => {
      const out = output(cmd);
      if (!(o.packSize >= 1 && o.packSize <= 1024)) throw new AppError('USAGE', '--pack-size must be between 1 and 1024 MiB.');
      if (!(Number.isInteger(o.compressionLevel) && o.compressionLevel >= 1 && o.compressionLevel <= 19)) throw new AppError('USAGE', '--compression-level must be 1…19.');
      const location = repoLocation(cmd);
      const password = await getPassword(globals(cmd), { confirm: true });
      const r = await createRepository({ location, password }, { packSize: o.packSize * 1024 * 1024, compressionLevel: o.compressionLevel });
      if (out.json) out.data(r);
      else out.out(`Created repository ${r.id.slice(0, 8)} at ${r.location}`);
    });

  repo
    .command('check')
    .description('Verify the repository structure; with --read-data, read back and verify every byte')
    .option('--read-data', 'read every pack and verify each blob (slow, thorough)')
    .option('--read-data-subset <percent>', 'read a random subset of packs, e.g. 10', Number)
    .addHelpText('after', '\nExit status is 0 when the repository is sound and 1 when problems were found; each problem names the damaged pack and the snapshots and files that depend on it.')
    .action((o: { readData?: boolean; readDataSubset?: number }, cmd: Command) =>
      withOperations(cmd, async (ops, out) => {
        const readData = o.readData ? true : o.readDataSubset !== undefined ? o.readDataSubset / 100 : false;
        const res = await withUi(out, 'checking', (ui) => ops.checkRepository({ readData }, ui));
        if (out.json) out.data(res);
        else {
          out.out(`${res.snapshots} snapshots, ${res.packs} packs, ${res.blobs} blobs${res.packsRead ? `, ${res.packsRead} packs read back` : ''}`);
          for (const w of res.warnings) out.out(`warning: ${w}`);
          for (const e of res.errors) {
            out.out(`error: ${e.message}`);
            for (const d of e.dependents ?? []) out.out(`  needed by snapshot ${d.snapshot.slice(0, 8)}: ${d.path}`);
          }
          out.out(res.ok ? 'no errors were found' : `${res.errors.length} error(s) found`);
        }
        if (!res.ok) throw new AppError('CHECK_FAILED', `The repository check found ${res.errors.length} problem(s).`, { details: { reported: true } });
      }),
    );

  repo
    .command('stats')
    .description('Show sizes, deduplication and compression of the repository')
    .action(
      rendered(
        (ops) => ops.repositoryStats(),
        (out, s) =>
          out.out(
          [
            `repository    ${s.repositoryId.slice(0, 8)} at ${s.location}`,
            `snapshots     ${s.snapshots}`,
            `stored        ${formatBytes(s.storedBytes)} in ${s.packs} packs`,
            `blobs         ${s.blobs.data} data, ${s.blobs.tree} tree`,
            `unique data   ${formatBytes(s.uniqueRawBytes)} (compression ${s.compressionRatio.toFixed(2)}×)`,
            `all snapshots ${formatBytes(s.logicalBytes)} (deduplication ${s.dedupRatio.toFixed(2)}×)`,
            `keys          ${s.keys}`,
          ].join('\n'),
          ),
      ),
    );

  repo
    .command('unlock')
    .description('Remove stale locks (left by a process that died); --remove-all removes every lock')
    .option('--remove-all', 'also remove locks that look alive (only when you are sure nothing runs)')
    .action(answer((ops, o: { removeAll?: boolean }) => ops.unlockRepository({ removeAll: !!o.removeAll }), (r) => [`removed ${r.removed.length} lock(s)`, ...(r.kept.length ? [`${r.kept.length} lock(s) belong to live processes and were kept (use --remove-all if you are sure)`] : [])]));

  repo
    .command('prune')
    .description('Delete data that no snapshot uses and report the space reclaimed')
    .option('--dry-run', 'only show what would be removed')
    .option('--max-unused <percent>', 'repack packs with more unused bytes than this', Number, 10)
    .action((o: { dryRun?: boolean; maxUnused: number }, cmd: Command) =>
      withOperations(cmd, async (ops, out) => {
        const res = await withUi(out, 'pruning', (ui) => ops.pruneRepository({ dryRun: !!o.dryRun, maxUnused: o.maxUnused / 100 }, ui));
        if (out.json) return out.data(res);
        const verb = res.dryRun ? 'would' : 'did';
        out.out(`${res.usedBlobs} blobs in use, ${res.unusedBlobs} unused`);
        out.out(`${verb} delete ${res.remove.length} unused pack(s), repack ${res.repack.length}, remove ${res.unindexed.length} unindexed`);
        if (res.temporaries > 0) out.out(`removed ${res.temporaries} unfinished write(s) left by interrupted runs`);
        out.out(`${res.dryRun ? 'would reclaim' : 'reclaimed'} ${formatBytes(res.reclaimedBytes)} (${formatBytes(res.bytesBefore)} → ${formatBytes(res.bytesAfter)})`);
      }),
    );

  const index = repo.command('index').description('Index maintenance');
  index
    .command('rebuild')
    .description('Rebuild the index from the pack files themselves')
    .action((_o: unknown, cmd: Command) =>
      withOperations(cmd, async (ops, out) => {
        const res = await withUi(out, 'rebuilding the index', (ui) => ops.rebuildIndex(ui));
        if (out.json) out.data(res);
        else {
          out.out(`indexed ${res.blobs} blobs in ${res.packs} packs (replacing ${res.superseded} index files)`);
          for (const u of res.unreadable) out.out(`warning: pack ${u.pack} unreadable: ${u.message}${u.keptFromIndex ? ' (its entries were kept from the old index)' : ' (no old index had it: its blobs are not indexed)'}`);
          for (const n of res.unreadableIndexFiles) out.out(`warning: old index file ${n} unreadable (superseded)`);
        }
        if (res.unreadable.length > 0) {
          throw new AppError('CHECK_FAILED', `${res.unreadable.length} pack(s) could not be read; run "strongbox repo check --read-data" to see which snapshots and files they affect.`);
        }
      }),
    );

  const key = repo.command('key').description('Manage the passwords that open the repository');
  key
    .command('list')
    .description('List keys')
    .action(rendered((ops) => ops.listKeys(), (out, keys) => out.out(table(keys.map((k) => [(k.current ? '*' : ' ') + k.id.slice(0, 8), k.username, k.host, k.created]), [' ID', 'User', 'Host', 'Created']))));
  key
    .command('add')
    .description('Add another password (from --new-password-file, STRONGBOX_NEW_PASSWORD or a prompt)')
    .option('--new-password-file <file>', 'read the new password from a file')
    .action(answer(async (ops, o: { newPasswordFile?: string }) => ops.addKey(await getNewPassword(o.newPasswordFile)), (r) => `Added key ${r.id.slice(0, 8)}`));
  key
    .command('remove <id>')
    .description('Remove a key (not the one in use)')
    .action(answer((ops, id: string) => ops.removeKey(id), (r) => `Removed key ${r.removed.slice(0, 8)}`));
  key
    .command('passwd')
    .description('Change the password: adds a key with the new password and removes the one in use')
    .option('--new-password-file <file>', 'read the new password from a file')
    .action(answer(async (ops, o: { newPasswordFile?: string }) => ops.changePassword(await getNewPassword(o.newPasswordFile)), (r) => `Password changed (key ${r.removed.slice(0, 8)} replaced by ${r.id.slice(0, 8)})`));

  return repo;
}
