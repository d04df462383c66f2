import { AppError } from '../kernel/index.js';
import type { Handle, ObjectInfo } from './backend.js';

const CONFIG: Handle = { kind: 'config', name: 'config' };

function missing(err: unknown): boolean {
  return err instanceof AppError && err.code === 'NOT_FOUND';
}

/** For object stores: the config object marks a repository. */
export async function hasConfig(stat: (h: Handle) => Promise<ObjectInfo>): Promise<boolean> {
  try {
    await stat(CONFIG);
    return true;
  } catch (err) {
    if (missing(err)) return false;
    throw err;
  }
}

/** For object stores: `list('config')` is the config object, if there is one. */
export async function* listConfig(stat: (h: Handle) => Promise<ObjectInfo>): AsyncIterable<ObjectInfo> {
  try {
    yield await stat(CONFIG);
  } catch (err) {
    if (!missing(err)) throw err;
  }
}
