import { getAttributeSync, listAttributesSync, setAttributeSync } from 'fs-xattr';

/**
 * Extended attributes, read and written where the file system supports them.
 * Names are text; values travel base64-encoded. Paths that are not valid UTF-8
 * cannot be passed to the xattr calls and keep no attributes.
 */
function textPath(p: Buffer): string | undefined {
  const s = p.toString('utf8');
  return Buffer.from(s, 'utf8').equals(p) ? s : undefined;
}

/** The attributes of a file or directory (not following symlinks' targets: callers skip links). */
export function readXattrs(p: Buffer): { xattrs?: Record<string, string>; error?: string } {
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

export function writeXattrs(p: Buffer, xattrs: Record<string, string>): string | undefined {
  const path = textPath(p);
  if (path === undefined) return 'extended attributes not restored: the path is not valid UTF-8';
  for (const [n, v] of Object.entries(xattrs)) {
    try {
      setAttributeSync(path, n, Buffer.from(v, 'base64'));
    } catch (err) {
      return `extended attribute ${n} not restored: ${(err as Error).message}`;
    }
  }
  return undefined;
}
