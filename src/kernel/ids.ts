import { randomBytes } from 'node:crypto';

export type Hex = string;

export function newId(): Hex {
  return randomBytes(32).toString('hex');
}

/** Resolves a unique prefix among candidates. Returns the match, 'ambiguous' or undefined. */
export function matchPrefix(prefix: string, candidates: Iterable<string>): string | 'ambiguous' | undefined {
  let found: string | undefined;
  for (const c of candidates) {
    if (c.startsWith(prefix)) {
      if (found !== undefined && found !== c) return 'ambiguous';
      found = c;
    }
  }
  return found;
}
