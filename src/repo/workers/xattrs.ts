import { getAttributeSync, listAttributesSync } from 'fs-xattr';

/**
 * Reading extended attributes of source files (the workers do it while they read
 * a file's content; the backup does it for directories). Names are text; values
 * travel base64-encoded. Paths that are not valid UTF-8 cannot be passed to the
 * xattr calls and keep no attributes.
 */
export function textPath(p: Buffer): string | undefined {
  const s = p.toString('utf8');
  return Buffer.from(s, 'utf8').equals(p) ? s : undefined;
}

export interface XattrRead {
  xattrs?: Record<string, string>;
  error?: string;
}

/** The attributes of a file or directory (not following symlinks' targets: callers skip links). */
export function readXattrs(p: Buffer): XattrRead {
  const path = textPath(p);
  if (path === undefined) return {};
  let names: string[];
  try {
    names = listAttributesSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // No support on this file system, or a file that vanished: nothing to keep.
    if (code === 'ENOTSUP' || code === 'EOPNOTSUPP' || code === 'ENOENT') return {};
    return { error: (err as Error).message };
  }
  if (names.length === 0) return {};
  const out: Record<string, string> = {};
  for (const n of names) {
    try {
      out[n] = getAttributeSync(path, n).toString('base64');
    } catch (err) {
      return { error: `${n}: ${(err as Error).message}` };
    }
  }
  return { xattrs: out };
}

