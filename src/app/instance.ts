import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { homedir } from 'node:os';
import * as path from 'node:path';
import { AppError } from '../kernel/index.js';
import { openCatalog, DestinationStore, type Catalog, type PasswordRef } from '../catalog/index.js';
import { openSealed, seal } from '../repo/index.js';

/**
 * The instance home (STRONGBOX_HOME, default $XDG_DATA_HOME/strongbox or
 * ~/.local/share/strongbox): the catalog and the instance key that seals the
 * secrets the catalog keeps. Both are private to the user (0700 / 0600).
 */
export function instanceHome(): string {
  const env = process.env.STRONGBOX_HOME;
  if (env) return path.resolve(env);
  return path.join(process.env.XDG_DATA_HOME || path.join(homedir(), '.local', 'share'), 'strongbox');
}

export interface Instance {
  home: string;
  catalog: Catalog;
  destinations: DestinationStore;
  sealSecret(plain: string): PasswordRef;
  resolvePassword(ref: PasswordRef): string;
  close(): Promise<void>;
}

function instanceKey(home: string): Buffer {
  const file = path.join(home, 'instance.key');
  try {
    const key = fs.readFileSync(file);
    if (key.length !== 32) throw new AppError('CORRUPT', `${file} is not an instance key (expected 32 bytes). Restore it from a backup of the instance home.`);
    return key;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  // Created atomically: a crash leaves either no key or the whole key.
  const tmp = `${file}.${process.pid}.tmp`;
  const key = randomBytes(32);
  const fd = fs.openSync(tmp, 'wx', 0o600);
  try {
    fs.writeSync(fd, key);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  try {
    fs.linkSync(tmp, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
  return fs.readFileSync(file);
}

export async function openInstance(home = instanceHome()): Promise<Instance> {
  fs.mkdirSync(home, { recursive: true, mode: 0o700 });
  const key = instanceKey(home);
  const catalog = await openCatalog(path.join(home, 'catalog.sqlite'));
  return {
    home,
    catalog,
    destinations: new DestinationStore(catalog),
    sealSecret: (plain) => ({ type: 'sealed', sealed: seal(key, Buffer.from(plain, 'utf8')).toString('base64') }),
    resolvePassword(ref) {
      switch (ref.type) {
        case 'sealed':
          try {
            return openSealed(key, Buffer.from(ref.sealed, 'base64'), 'stored password').toString('utf8');
          } catch (err) {
            throw new AppError('CORRUPT', `A stored password does not open with this instance's key (${path.join(home, 'instance.key')}); was the key replaced? Add the destination again.`, { cause: err });
          }
        case 'env': {
          const v = process.env[ref.name];
          if (v === undefined || v === '') throw new AppError('PASSWORD_REQUIRED', `The destination's password comes from the environment variable ${ref.name}, which is not set.`);
          return v;
        }
        case 'file':
          try {
            return fs.readFileSync(ref.path, 'utf8').replace(/\r?\n$/, '');
          } catch (err) {
            throw new AppError('PASSWORD_REQUIRED', `The destination's password comes from ${ref.path}, which cannot be read: ${(err as Error).message}.`, { cause: err });
          }
      }
    },
    close: () => catalog.destroy(),
  };
}

export function describePasswordRef(ref: PasswordRef): string {
  return ref.type === 'sealed' ? 'stored (encrypted with the instance key)' : ref.type === 'env' ? `environment variable ${ref.name}` : `file ${ref.path}`;
}
