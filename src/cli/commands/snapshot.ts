import { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { AppError, EXIT_PARTIAL, registerSecret } from '../../kernel/index.js';
import { parseDuration, type CopyTo, type RetentionPolicy } from '../../operations/index.js';
import { formatBytes, formatDuration, quoteControl, table } from '../render.js';
import { answer, collect, outcome, parseCount, rendered, withOperations, withUi } from '../context.js';
import { addArchiveCommands } from './archive.js';
import { readSpec } from './app.js';
import { parseMaps, printAppSnapshotResult, printRestoreResult, renderSnapshotList, showAppSnapshot, verifiedText, showFileSnapshot } from './snapshot-views.js';

export { outcome };

/** Where a copy goes: a destination of this instance, or a location with its own password. */
function copyTarget(o: { to?: string; toRepo?: string; toPasswordFile?: string }): CopyTo {
  if (o.toRepo) {
    const password = o.toPasswordFile ? readFileSync(o.toPasswordFile, 'utf8').replace(/\r?\n$/, '') : process.env.STRONGBOX_TO_PASSWORD;
    if (!password) throw new AppError('PASSWORD_REQUIRED', 'The target repository\'s password is needed: --to-password-file FILE or STRONGBOX_TO_PASSWORD.');
    registerSecret(password);
    return { location: o.toRepo, password };
  }
  return { destination: o.to! };
}

export function snapshotCommand(): Command {
  const snap = new Command('snapshot').description('Create, list, inspect, restore and expire snapshots');

  snap
    .command('create')
    .description('Back up directories (--path), an application (--app) or the whole instance (--full) into a new snapshot; prints its id')
    .option('--path <dir>', 'a directory or file to back up (repeat for more)', collect)
    .option('--app <name>', 'back up an application of this instance: every component, with its hooks (partial snapshot)', collect)
    .option('--full', 'back up every application and the instance\'s own state (catalog, destinations): everything to rebuild this instance')
    .option('--note <text>', 'a note kept with the snapshot')
    .option('--exclude <glob>', 'skip entries matching a glob: "*.tmp" matches names anywhere, "/var/cache/**" whole paths (repeat)', collect)
    .option('--tag <tag>', 'tag the snapshot (repeat)', collect)
    .option('--host <name>', 'record this host name instead of the machine\'s')
    .option('--parent <id>', 'compare against this snapshot instead of the latest one of the same paths')
    .option('--force', 're-read every file (ignore the parent)')
    .option('--detach', 'with --server: print the job id and return at once (follow it with "strongbox job watch ID")')
    .addHelpText(
      'after',
      '\nUnchanged files (same size, mtime and inode as in the parent snapshot) are not read again.\nExit status 3 means the snapshot was written but some files (or, for --app/--full, some components)\ncould not be read; they are listed, with the reasons, in "snapshot show ID" and "snapshot logs ID".\n\nExamples:\n  strongbox snapshot create --path /srv/app/data --exclude "*.tmp" --tag nightly\n  strongbox snapshot create --app notes --tag before-upgrade --note "before 1.5"\n  strongbox snapshot create --full',
    )
    .action(async (o: { path?: string[]; app?: string[]; full?: boolean; note?: string; exclude?: string[]; tag?: string[]; host?: string; parent?: string; force?: boolean; detach?: boolean }, cmd: Command) => {
      const modes = [o.path ? '--path' : '', o.app ? '--app' : '', o.full ? '--full' : ''].filter(Boolean);
      if (modes.length !== 1) throw new AppError('USAGE', modes.length === 0 ? 'Say what to back up: --path DIR, --app NAME or --full.' : `Use one of ${modes.join(', ')}, not several.`);
      if (o.path && o.note) throw new AppError('USAGE', '--note is for --app and --full snapshots.');
      await withOperations(cmd, async (ops, out) => {
        if (o.app || o.full) {
          if (o.detach && ops.remote) {
            const job = await ops.submitSnapshot({ ...(o.app ? { apps: o.app } : {}), full: !!o.full, tags: o.tag ?? [], note: o.note });
            if (out.json) return out.data(job);
            out.err(`job ${job.id} started; "strongbox job watch ${job.id.slice(0, 8)}" follows it`);
            return out.out(job.id);
          }
          const res = await withUi(out, 'backing up', (ui) => ops.createSnapshot({ ...(o.app ? { apps: o.app } : {}), full: !!o.full, tags: o.tag ?? [], note: o.note, host: o.host }, ui));
          return printAppSnapshotResult(out, res);
        }
        const res = await withUi(out, 'backing up', (ui) =>
          ops.backupPaths({ paths: o.path!, excludes: o.exclude ?? [], tags: o.tag ?? [], host: o.host, parent: o.parent, force: o.force, estimate: !!process.stderr.isTTY && !out.quiet && !out.json }, ui),
        );
        const s = res.snapshot.summary;
        if (out.json) out.data({ id: res.id, ...res.snapshot });
        else {
          if (!out.quiet) out.err(`${s.files} files, ${s.dirs} dirs, ${formatBytes(s.bytes)} (${s.newFiles} new, ${s.changedFiles} changed, ${s.unchangedFiles} unchanged); added ${formatBytes(s.newBytes)} (${formatBytes(s.storedBytes)} stored) in ${formatDuration(s.durationMs)}`);
          if (res.snapshot.partial) process.stderr.write(`warning: snapshot is partial: ${res.snapshot.warningCount} item(s) could not be read (listed above)\n`);
          out.out(res.id);
        }
        if (res.snapshot.partial) outcome.exitCode = EXIT_PARTIAL;
      });
    });

  snap
    .command('list')
    .description('List snapshots, oldest first')
    .option('--tag <tag>', 'only snapshots with this tag (repeat: any of them)', collect)
    .option('--host <host>', 'only snapshots of this host')
    .option('--path <path>', 'only snapshots that include this path')
    .option('--app <name>', 'only snapshots that hold this application')
    .action((o: { tag?: string[]; host?: string; path?: string; app?: string }, cmd: Command) =>
      // Locally and through a server the same filter applies (tree/filter.ts).
      withOperations(cmd, async (ops, out) => renderSnapshotList(out, await ops.listSnapshots({ tags: o.tag, host: o.host, path: o.path, app: o.app }))),
    );

  snap
    .command('show <id>')
    .description('Show a snapshot\'s manifest: paths, tags, parent, summary and warnings')
    .action(
      rendered(
        (ops, id: string) => ops.showSnapshot(id),
        (out, s) => {
          if (!s.snapshot.type) return showFileSnapshot(out, s.id, s.snapshot);
          showAppSnapshot(out, s.id, s.snapshot);
          out.out(`Restore drill: ${verifiedText(s.verified)}`);
        },
        (s) => ({ id: s.id, ...s.snapshot, verified: s.verified }),
      ),
    );

  snap
    .command('logs <id>')
    .description('Print the log of an application or full snapshot: hooks, tools, components, errors')
    .action(rendered((ops, id: string) => ops.snapshotLog(id), (_out, r) => void process.stdout.write(r.lines.map((l) => `${l}\n`).join(''))));

  snap
    .command('ls <id> [path]')
    .description('List the files in a snapshot, at and below PATH')
    .option('-l, --long', 'show mode, owner, size and time')
    .action((id: string, path: string | undefined, o: { long?: boolean }, cmd: Command) =>
      withOperations(cmd, async (ops, out) => {
        const entries: unknown[] = [];
        await ops.listFiles(id, path ?? '/', (e) => {
          if (out.json) entries.push(e);
          else if (o.long) {
            const mode = (e.type === 'dir' ? 'd' : e.type === 'symlink' ? 'l' : '-') + e.mode.toString(8).padStart(4, '0');
            out.out(`${mode} ${(e.user ?? '?').padEnd(8)} ${(e.group ?? '?').padEnd(8)} ${String(e.size ?? '').padStart(12)} ${e.mtime.slice(0, 19)} ${quoteControl(e.path)}${e.target !== undefined ? ' -> ' + quoteControl(e.target) : ''}`);
          } else out.out(quoteControl(e.path));
        });
        if (out.json) out.data(entries);
      }),
    );

  snap
    .command('dump <id> <path>')
    .description('Write one file of a snapshot to stdout (a dump, a Kubernetes manifest), every byte read back and checked')
    .addHelpText('after', '\nExamples:\n  strongbox snapshot dump latest /notes/db/database.pgdump > notes.pgdump\n  strongbox snapshot dump 3f2a91c0 /shop/cluster/resources/apps/v1/Deployment/shop/web.yaml')
    .action((id: string, path: string, _o: unknown, cmd: Command) => withOperations(cmd, async (ops) => ops.dumpFile(id, path, process.stdout)));

  snap
    .command('diff <a> <b>')
    .description('Show what changed between two snapshots (+ added, - removed, M modified, T type changed, U metadata)')
    .action(
      rendered(
        (ops, a: string, b: string) => ops.diff(a, b),
        (out, res) => {
          for (const l of res.lines) out.out(`${l.change}  ${quoteControl(l.path)}`);
          out.out(`${res.added} added, ${res.removed} removed, ${res.modified} modified`);
        },
      ),
    );

  snap
    .command('delete <id>')
    .description('Delete one snapshot (its data is reclaimed by "repo prune")')
    .action(rendered((ops, id: string) => ops.deleteSnapshot(id), (out, r, ops) => out.out(`Deleted snapshot ${r.deleted.slice(0, 8)}; ${ops.remote ? "the server's maintenance (prune) reclaims its space" : 'run "strongbox repo prune" to reclaim its space'}.`)));

  for (const pin of [true, false]) {
    snap
      .command(`${pin ? 'pin' : 'unpin'} <id>`)
      .description(pin ? 'Pin a snapshot: no retention, forget or delete removes it, on any instance (the pin is kept in the repository)' : 'Unpin a snapshot (admins): retention may forget it again')
      .option(pin ? '--reason <text>' : '--quiet-if-missing', pin ? 'why it is kept (shown with the pin)' : 'no error when it is not pinned')
      .action(answer((ops, id: string, o: { reason?: string; quietIfMissing?: boolean }): Promise<{ id: string; pinned: boolean }> => (pin ? ops.pinSnapshot(id, o.reason) : ops.unpinSnapshot(id, !!o.quietIfMissing)), (r) => `${pin ? 'Pinned' : 'Unpinned'} snapshot ${r.id.slice(0, 8)}`));
  }

  snap
    .command('restore <id>')
    .description('Restore a snapshot: files under --target, or an application/full snapshot into its targets (checked first)')
    .option('--target <dir>', 'restore files into this directory (created if missing): a file snapshot\'s paths, or an application snapshot\'s /APP/COMPONENT/… (a dump is one file); nothing runs')
    .option('--include <path>', 'with --target: restore only this snapshot path and what is below it (repeat), e.g. /notes/uploads/2026', collect)
    .option('--component <name>', 'application snapshots: restore only this component (NAME, or APP/NAME in a full snapshot; repeat)', collect)
    .option('--app <name>', 'full snapshots: restore only this application (repeat)', collect)
    .option('--map <COMPONENT.FIELD=VALUE>', 'restore a component somewhere else: db.url=postgres://…/copy, uploads.path=/srv/new, cache.rdbPath=/var/lib/redis/dump.rdb (repeat)', collect)
    .option('--spec <file>', 'application snapshots: the spec to restore an application with (its targets, hooks and commands), instead of the one installed here; a snapshot\'s own spec is never run (repeat)', collect)
    .option('--no-space-check', 'do not refuse a restore whose files hold more than the target has free (sparse files may need less)')
    .option('--keep-privileges', 'file snapshots: also restore device nodes, setuid/setgid bits and security.*/trusted.* extended attributes (off by default: a snapshot may come from elsewhere)')
    .option('--dry-run', 'print the plan (with every command it would run) and the preflight result; change nothing (exit status 4 when the preflight fails)')
    .option('--force', 'restore into targets that are not empty (files are replaced; databases get the snapshot\'s objects dropped and recreated)')
    .option('--repoint', 'the application uses the --map targets from now on: its spec is changed, so its next snapshot backs up what was restored (a recovery of a whole full snapshot always does)')
    .addHelpText(
      'after',
      '\nFile snapshots: a snapshot of /srv/app restored with --target /tmp/r lands in /tmp/r/srv/app.\nFiles whose data is damaged are reported (exit status 1); everything else is still restored.\n\nApplication and full snapshots: every chosen component\'s target is checked before anything is\ntouched (empty database or directory, tools present and new enough); a target that is not clean\nis refused (exit status 4) with what is in the way, unless --force. Targets, credentials, hooks and\ncommands come from the spec installed here (or --spec), never from the snapshot: an application\nthat is not installed restores its data only, into targets you give with --map. A full snapshot\nrestored on a fresh instance also brings back the whole instance (applications, destinations,\nschedules, settings, users; disaster recovery); the plan lists everything it installs.\nAny snapshot\'s files restore with --target DIR (an application snapshot\'s as /APP/COMPONENT/…).\n\nExamples:\n  strongbox snapshot restore latest --target /tmp/restore --include /srv/app/config\n  strongbox snapshot restore 3f2a --dry-run\n  strongbox snapshot restore 3f2a --target /tmp/r --include /notes/uploads\n  strongbox snapshot restore 3f2a --component db --map db.url=postgres://notes@127.0.0.1/notes_copy',
    )
    .action(async (id: string, o: { target?: string; include?: string[]; component?: string[]; app?: string[]; map?: string[]; spec?: string[]; keepPrivileges?: boolean; spaceCheck?: boolean; dryRun?: boolean; force?: boolean; repoint?: boolean }, cmd: Command) => {
      await withOperations(cmd, async (ops, out) => {
        if (o.target && ops.remote) throw new AppError('USAGE', 'Restoring files to a directory (--target) works on the machine that holds the data; run it there without --server (or unset STRONGBOX_SERVER).');
        // --target restores files from any snapshot (an application snapshot's as /APP/COMPONENT/…); without it, an
        // application or full snapshot restores into its components' targets.
        const { kind, id: full } = o.target ? { kind: 'files', id } : await ops.snapshotKind(id);
        if (kind !== 'files') {
          if (o.include) throw new AppError('USAGE', `--include picks files to restore under --target DIR; snapshot ${full.slice(0, 8)} is ${kind === 'application' ? 'an application' : 'a full'} snapshot: give --target too (its files are /APP/COMPONENT/…), or restore its components with --component and --map.`);
          const specs = (o.spec ?? []).map((f) => readSpec(f));
          const res = await withUi(out, 'restoring', (ui) =>
            ops.restoreSnapshot(full, { ...(o.app ? { apps: o.app } : {}), ...(o.component ? { components: o.component } : {}), maps: parseMaps(o.map), ...(specs.length ? { specs } : {}), ...(o.spaceCheck === false ? { spaceCheck: false } : {}), dryRun: !!o.dryRun, force: !!o.force, ...(o.repoint ? { repoint: true } : {}) }, ui),
          );
          return printRestoreResult(out, res);
        }
        if (o.component || o.app || o.map || o.spec || o.dryRun || o.force || o.repoint) throw new AppError('USAGE', '--component, --app, --map, --spec, --dry-run, --force and --repoint are for application and full snapshots; this is a file snapshot (use --target and --include).');
        if (!o.target) throw new AppError('USAGE', 'A file snapshot restores under --target DIR.');
        const target = o.target;
        const res = await withUi(out, 'restoring', (ui) => ops.restoreFiles(id, { target, includes: o.include ?? [], keepPrivileges: !!o.keepPrivileges, spaceCheck: o.spaceCheck !== false }, ui));
        if (out.json) out.data(res);
        else {
          out.out(`Restored ${res.files} files, ${res.dirs} dirs, ${formatBytes(res.bytes)} from ${res.snapshot.slice(0, 8)} to ${target}`);
          if (res.errors.length) out.out(`${res.errors.length} file(s) could not be restored completely (listed above)`);
        }
        if (res.errors.length) throw new AppError('RESTORE_INCOMPLETE', `${res.errors.length} file(s) could not be restored completely.`, { details: { reported: true } });
      });
    });

  snap
    .command('copy [ids...]')
    .description('Copy snapshots to another destination (only the data it lacks is sent; re-running copies nothing)')
    .option('--to <destination>', 'the destination to copy to (see "strongbox destination list")')
    .option('--to-repo <location>', 'or a repository location; its password from --to-password-file or STRONGBOX_TO_PASSWORD')
    .option('--to-password-file <file>', 'the target repository\'s password (with --to-repo)')
    .option('--all', 'copy every snapshot of the source')
    .addHelpText(
      'after',
      '\nThe source is the usual repository (--repo, --destination or the default destination). The target may\nhave another password: blobs are re-encrypted with its keys.\n\nExamples:\n  strongbox snapshot copy latest --to offsite\n  strongbox snapshot copy --all --to offsite',
    )
    .action(async (ids: string[], o: { to?: string; toRepo?: string; toPasswordFile?: string; all?: boolean }, cmd: Command) => {
      if (!o.to === !o.toRepo) throw new AppError('USAGE', 'Say where to copy to: --to DESTINATION or --to-repo LOCATION.');
      if (!o.all && ids.length === 0) throw new AppError('USAGE', 'Name the snapshots to copy (ids, prefixes or "latest"), or use --all.');
      const to = copyTarget(o);
      await withOperations(cmd, async (ops, out) => {
        const res = await withUi(out, 'copying', (ui) => ops.copySnapshots(o.all ? 'all' : ids, to, ui));
        if (out.json) return out.data(res);
        for (const c of res.copied) out.out(`copied ${c.source.slice(0, 8)} → ${c.target.slice(0, 8)}`);
        for (const c of res.skipped) out.out(`skipped ${c.source.slice(0, 8)}: already in the target as ${c.target.slice(0, 8)}`);
        out.out(`${res.copied.length} copied, ${res.skipped.length} already there; sent ${res.blobsSent} blobs, ${formatBytes(res.bytesSent)} (${formatBytes(res.storedBytesSent)} stored)`);
      });
    });

  addArchiveCommands(snap);

  snap
    .command('forget')
    .description('Remove snapshots that a retention policy does not keep (per host and paths)')
    .option('--keep-last <n>', 'keep the n newest snapshots', parseCount('--keep-last'))
    .option('--keep-hourly <n>', 'keep the newest snapshot of each of the last n hours that have one', parseCount('--keep-hourly'))
    .option('--keep-daily <n>', '… of each of the last n days', parseCount('--keep-daily'))
    .option('--keep-weekly <n>', '… of each of the last n ISO weeks', parseCount('--keep-weekly'))
    .option('--keep-monthly <n>', '… of each of the last n months', parseCount('--keep-monthly'))
    .option('--keep-yearly <n>', '… of each of the last n years', parseCount('--keep-yearly'))
    .option('--keep-within <duration>', 'keep every snapshot newer than this, e.g. 30d, 12h, 1y6m')
    .option('--keep-tag <tag>', 'never forget snapshots with this tag (repeat)', collect)
    .option('--dry-run', 'only show what would be removed')
    .addHelpText('after', '\nPeriods are counted in UTC. The newest snapshot of each group is always kept.\nForget removes snapshots only; "strongbox repo prune" then reclaims the space.\n\nExample:\n  strongbox snapshot forget --keep-daily 7 --keep-weekly 4 --keep-monthly 12 --dry-run')
    .action(async (o: Record<string, unknown>, cmd: Command) => {
      const policy: RetentionPolicy = {};
      for (const k of ['keepLast', 'keepHourly', 'keepDaily', 'keepWeekly', 'keepMonthly', 'keepYearly'] as const) if (o[k] !== undefined) policy[k] = o[k] as number;
      if (o.keepWithin !== undefined) {
        try {
          policy.keepWithinMs = parseDuration(String(o.keepWithin));
        } catch (err) {
          throw new AppError('USAGE', `--keep-within: ${(err as Error).message}.`);
        }
      }
      if (o.keepTag) policy.keepTags = o.keepTag as string[];
      await withOperations(cmd, async (ops, out) => {
        const res = await ops.forgetSnapshots(policy, !!o.dryRun);
        if (out.json) return out.data(res);
        for (const g of res.groups) {
          out.out(`host ${g.host}, paths ${g.paths.join(' ')}:`);
          out.out(table(g.decisions.map((d) => [d.keep ? 'keep' : 'remove', d.id.slice(0, 8), d.time.replace('T', ' ').slice(0, 19), d.reasons.join(', ')]), ['Action', 'ID', 'Time (UTC)', 'Reasons']));
        }
        out.out(`${res.dryRun ? 'would remove' : 'removed'} ${res.removed.length} snapshot(s)${res.dryRun ? '' : '; run "strongbox repo prune" to reclaim space'}`);
      });
    });

  return snap;
}
