import { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { AppError } from '../../kernel/index.js';
import { applicationJsonSchema, formatProblems, validateSpec } from '../../operations/index.js';
import { answer, output, rendered, withOperations } from '../context.js';
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
    .description('Add an application from its spec (YAML), or from a Velero Backup or Schedule manifest (translated); it is validated first')
    .requiredOption('-f, --file <spec>', 'the spec file (- for stdin)')
    .option('--replace', 'replace the spec of an application that exists already')
    .addHelpText('after', '\nThe spec format is in docs/APPLICATIONS.md; "strongbox app schema" prints its JSON Schema.\n\nExample:\n  strongbox app add -f examples/notes/notes.yaml\n  strongbox snapshot create --app notes')
    .action((o: { file: string; replace?: boolean }, cmd: Command) =>
      withOperations(cmd, async (ops, out) => {
        const text = readSpec(o.file);
        const r = await ops.addApplication(text, !!o.replace, o.file);
        if (out.json) return out.data({ [r.result]: r.name, version: r.version, ...(r.translated ? { translated: r.translated } : {}) });
        if (r.translated) {
          out.out(`Translated the ${r.translated.from} into this application spec:\n\n${r.translated.spec}`);
          out.out(r.translated.untranslated.length ? `Not translated (${r.translated.untranslated.length}):\n${r.translated.untranslated.map((u) => `  - ${u}`).join('\n')}\n` : 'Everything in it was translated.\n');
        }
        out.out(`${r.result === 'added' ? 'Added' : 'Replaced'} application ${r.name} ${r.version} (${r.components.map((c) => `${c.name}: ${c.kind}`).join(', ')}).`);
      }),
    );

  app
    .command('validate')
    .description('Check a spec without adding it; problems are listed with their line numbers (exit status 2)')
    .requiredOption('-f, --file <spec>', 'the spec file (- for stdin)')
    .action(async (o: { file: string }, cmd: Command) => {
      const out = output(cmd);
      const r = await validateSpec(readSpec(o.file));
      if (out.json) out.data(r.ok ? { valid: true, name: r.spec.metadata.name, version: r.spec.metadata.version, components: r.components } : { valid: false, problems: r.problems });
      else if (r.ok) out.out(`${o.file}: valid — application ${r.spec.metadata.name} ${r.spec.metadata.version}, ${r.components.length} component(s): ${r.components.map((c) => `${c.name} (${c.kind})`).join(', ')}`);
      if (!r.ok) {
        if (!out.json) process.stderr.write(formatProblems(o.file, r.problems) + '\n');
        throw new AppError('INVALID_ARGUMENT', `${o.file} is not a valid application spec (${r.problems.length} problem(s)).`, { details: { reported: true } });
      }
    });

  app
    .command('list')
    .description('List the applications of this instance')
    .action(
      rendered(
        async (ops) => (await ops.listApplications()).map((a) => ({ name: a.name, version: a.version, components: a.components, updatedAt: a.updatedAt })),
        (out, rows) => {
          if (rows.length === 0) return out.out('No applications yet. Add one with "strongbox app add -f SPEC.yaml" (see examples/).');
          out.out(table(rows.map((r) => [r.name, r.version, r.components.map((x) => `${x.name}(${x.kind})`).join(' '), r.updatedAt.slice(0, 19).replace('T', ' ')]), ['Name', 'Version', 'Components', 'Updated (UTC)']));
        },
      ),
    );

  app
    .command('show <name>')
    .description('Print an application\'s spec as it was added (--json: parsed)')
    .action(
      rendered(
        (ops, name: string) => ops.showApplication(name),
        (_out, a) => void process.stdout.write(a.specText.endsWith('\n') ? a.specText : a.specText + '\n'),
        (a) => ({ name: a.name, version: a.version, spec: a.spec, createdAt: a.createdAt, updatedAt: a.updatedAt }),
      ),
    );

  app
    .command('remove <name>')
    .description('Remove an application from this instance (its snapshots stay in the repository); refused while schedules snapshot it')
    .option('--with-schedules', 'also remove the schedules that snapshot it')
    .action(answer((ops, name: string, o: { withSchedules?: boolean }) => ops.removeApplication(name, !!o.withSchedules), (r, name) => `Removed application ${name}${r.schedulesRemoved.length ? ` and its schedule(s) ${r.schedulesRemoved.join(', ')}` : ''}; its snapshots are untouched.`));

  app
    .command('schema')
    .description('Print the JSON Schema of application specs (also in docs/application.schema.json)')
    .action(async () => {
      process.stdout.write(JSON.stringify(await applicationJsonSchema(), null, 2) + '\n');
    });

  return app;
}
