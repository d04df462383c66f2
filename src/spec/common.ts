/**
 * What the rest of Strongbox uses of the spec language without its parser: the
 * rule for application and component names (a snapshot's manifest from elsewhere
 * names them too) and how a spec's problems are written. Kept apart from the
 * parser so that using them loads no schema or YAML library.
 */
export const NAME_RE = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

export interface SpecProblem {
  line?: number;
  column?: number;
  path: string;
  message: string;
}

export function formatProblems(file: string, problems: SpecProblem[]): string {
  return problems.map((p) => `${file}${p.line !== undefined ? `:${p.line}${p.column !== undefined ? `:${p.column}` : ''}` : ''}: ${p.path ? p.path + ': ' : ''}${p.message}`).join('\n');
}
