/**
 * Exclude patterns: `*` and `?` within one path segment, `**` across segments,
 * `[abc]` classes. A pattern without a slash matches the entry's name at any
 * depth (like .gitignore); one with a slash matches the whole absolute path, or
 * its tail when it does not start with "/".
 */
export type Matcher = (absPath: string, name: string) => boolean;

export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') {
      if (glob[i + 1] === '*') {
        const slashAfter = glob[i + 2] === '/';
        re += slashAfter ? '(?:.*/)?' : '.*';
        i += slashAfter ? 2 : 1;
      } else re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 1);
      if (end < 0) re += '\\[';
      else {
        let cls = glob.slice(i + 1, end).replace(/\\/g, '\\\\');
        if (cls.startsWith('!')) cls = '^' + cls.slice(1);
        re += `[${cls}]`;
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** What `compileExcludes([])` returns: callers can skip building the arguments. */
export const matchesNothing: Matcher = () => false;

export function compileExcludes(patterns: readonly string[]): Matcher {
  const byName: RegExp[] = [];
  const byPath: RegExp[] = [];
  for (const p0 of patterns) {
    const p = p0.endsWith('/') && p0.length > 1 ? p0.slice(0, -1) : p0;
    if (!p.includes('/')) byName.push(globToRegExp(p));
    else byPath.push(globToRegExp(p.startsWith('/') ? p : `**/${p}`));
  }
  if (byName.length + byPath.length === 0) return matchesNothing;
  return (absPath, name) => byName.some((r) => r.test(name)) || byPath.some((r) => r.test(absPath));
}
