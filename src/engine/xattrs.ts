import { setAttributeSync } from 'fs-xattr';
import { textPath } from '../repo/index.js';

/** Writing extended attributes on restore, where the file system supports them. */
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
