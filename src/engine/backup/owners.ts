import { readFileSync } from 'node:fs';

/** Numeric id → name, from /etc/passwd and /etc/group, read once. */
export class OwnerNames {
  private users?: Map<number, string>;
  private groups?: Map<number, string>;

  user(uid: number): string | undefined {
    this.users ??= parse('/etc/passwd');
    return this.users.get(uid);
  }

  group(gid: number): string | undefined {
    this.groups ??= parse('/etc/group');
    return this.groups.get(gid);
  }
}

function parse(file: string): Map<number, string> {
  const m = new Map<number, string>();
  try {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const f = line.split(':');
      if (f.length >= 3 && f[0]) m.set(Number(f[2]), f[0]);
    }
  } catch {
    /* no such database: names stay unknown */
  }
  return m;
}
