import { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { AppError } from '../../kernel/index.js';
import { applicationJsonSchema, components, formatProblems, loadApplication, parseApplication } from '../../spec/index.js';
import { kinds } from '../../sources/index.js';
import { openInstance, removeApplication, type RemoveApplicationResult } from '../../app/index.js';
import { output } from '../context.js';
import { remote } from '../remote.js';
import { table } from '../render.js';

/** Reads a spec file (or stdin for -); the size limit is the parser's. */
export function readSpec(file: string): string {
  try {
    return file === '-' ? readFileSync(0, 'utf8') : readFileSync(file, 'utf8');
  } catch (err) {
    throw new AppError('INVALID_ARGUMENT', `Cannot read the spec ${file}: ${(err as Error).message}.`, { cause: err });
  }
}

export function appCommand(): Command {
  const app = new Command('app').description('Declare applications: what their state is (components) and what runs around a backup (hooks)');

  app
    .command('add')
    .description('Add an application from its spec (YAML); it is validated first')
    .requiredOption('-f, --file <spec>', 'the spec file (- for stdin)')
    .option('--replace', 'replace the spec of an application that exists already')
    .addHelpText('after', '\nThe spec format is in docs/APPLICATIONS.md; "strongbox app schema" prints its JSON Schema.\n\nExample:\n  strongbox app add -f examples/notes/notes.yaml\n  strongbox snapshot create --app notes')
    .action(async (o: { file: string; replace?: boolean }, cmd: Command) => {
      const out = output(cmd);
      const text = readSpec(o.file);
      const spec = loadApplication(text, o.file);
      const c = remote(cmd);
      if (c) {
        const r = await c.request<{ result: 'added' | 'replaced' }>('POST', '/api/applications', { spec: text, replace: !!o.replace });
        if (out.json) return out.data({ [r.result]: spec.metadata.name, version: spec.metadata.version });
        return out.out(`${r.result === 'added' ? 'Added' : 'Replaced'} application ${spec.metadata.name} ${spec.metadata.version} (${components(spec).map((x) => `${x.name}: ${x.kind}`).join(', ')}).`);
      }
      const inst = await openInstance();
      try {
        const what = await inst.applications.put(spec.metadata.name, spec.metadata.version, text, !!o.replace);
        if (out.json) out.data({ [what]: spec.metadata.name, version: spec.metadata.version });
        else out.out(`${what === 'added' ? 'Added' : 'Replaced'} application ${spec.metadata.name} ${spec.metadata.version} (${components(spec).map((c) => `${c.name}: ${c.kind}`).join(', ')}).`);
      } finally {
        await inst.close();
      }
    });

  app
    .command('validate')
    .description('Check a spec without adding it; problems are listed with their line numbers (exit status 2)')
    .requiredOption('-f, --file <spec>', 'the spec file (- for stdin)')
    .action((o: { file: string }, cmd: Command) => {
      const out = output(cmd);
      const r = parseApplication(readSpec(o.file));
      if (out.json) out.data(r.ok ? { valid: true, name: r.spec.metadata.name, version: r.spec.metadata.version, components: components(r.spec).map((c) => ({ name: c.name, kind: c.kind })) } : { valid: false, problems: r.problems });
      else if (r.ok) out.out(`${o.file}: valid — application ${r.spec.metadata.name} ${r.spec.metadata.version}, ${components(r.spec).length} component(s): ${components(r.spec).map((c) => `${c.name} (${c.kind})`).join(', ')}`);
      if (!r.ok) {
        if (!out.json) process.stderr.write(formatProblems(o.file, r.problems) + '\n');
        throw new AppError('INVALID_ARGUMENT', `${o.file} is not a valid application spec (${r.problems.length} problem(s)).`, { details: { reported: true } });
      }
    });

  app
    .command('list')
    .description('List the applications of this instance')
    .action(async (_o: unknown, cmd: Command) => {
      const out = output(cmd);
      const c = remote(cmd);
      const inst = c ? undefined : await openInstance();
      try {
        type Row = { name: string; version: string; components: { name: string; kind: string; source: string }[]; updatedAt: string };
        const rows: Row[] = c
          ? await c.get<Row[]>('/api/applications')
          : (await inst!.applications.list()).map((a) => {
              const spec = loadApplication(a.specText, a.name);
              return { name: a.name, version: a.version, components: components(spec).map((x) => ({ name: x.name, kind: x.kind, source: kinds[x.kind].describe(x.options as never) })), updatedAt: a.updatedAt };
            });
        if (out.json) return out.data(rows);
        if (rows.length === 0) return out.out('No applications yet. Add one with "strongbox app add -f SPEC.yaml" (see examples/).');
        out.out(table(rows.map((r) => [r.name, r.version, r.components.map((x) => `${x.name}(${x.kind})`).join(' '), r.updatedAt.slice(0, 19).replace('T', ' ')]), ['Name', 'Version', 'Components', 'Updated (UTC)']));
      } finally {
        await inst?.close();
      }
    });

  app
    .command('show <name>')
    .description('Print an application\'s spec as it was added (--json: parsed)')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      const out = output(cmd);
      const c = remote(cmd);
      if (c) {
        const a = await c.get<{ name: string; version: string; spec: unknown; specText: string; createdAt: string; updatedAt: string }>(`/api/applications/${encodeURIComponent(name)}`);
        if (out.json) return out.data({ name: a.name, version: a.version, spec: a.spec, createdAt: a.createdAt, updatedAt: a.updatedAt });
        return void process.stdout.write(a.specText.endsWith('\n') ? a.specText : a.specText + '\n');
      }
      const inst = await openInstance();
      try {
        const a = await inst.applications.get(name);
        if (out.json) return out.data({ name: a.name, version: a.version, spec: loadApplication(a.specText, a.name), createdAt: a.createdAt, updatedAt: a.updatedAt });
        process.stdout.write(a.specText.endsWith('\n') ? a.specText : a.specText + '\n');
      } finally {
        await inst.close();
      }
    });

  app
    .command('remove <name>')
    .description('Remove an application from this instance (its snapshots stay in the repository); refused while schedules snapshot it')
    .option('--with-schedules', 'also remove the schedules that snapshot it')
    .action(async (name: string, o: { withSchedules?: boolean }, cmd: Command) => {
      const out = output(cmd);
      const c = remote(cmd);
      let r: RemoveApplicationResult;
      if (c) r = await c.request<RemoveApplicationResult>('DELETE', `/api/applications/${encodeURIComponent(name)}${o.withSchedules ? '?withSchedules=true' : ''}`);
      else {
        const inst = await openInstance();
        try {
          r = await removeApplication(inst, name, { withSchedules: !!o.withSchedules });
        } finally {
          await inst.close();
        }
      }
      if (out.json) return out.data(r);
      out.out(`Removed application ${name}${r.schedulesRemoved.length ? ` and its schedule(s) ${r.schedulesRemoved.join(', ')}` : ''}; its snapshots are untouched.`);
    });

  app
    .command('schema')
    .description('Print the JSON Schema of application specs (also in docs/application.schema.json)')
    .action(() => {
      process.stdout.write(JSON.stringify(applicationJsonSchema(), null, 2) + '\n');
    });

  return app;
}
