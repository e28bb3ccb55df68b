import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ConfigError } from '../config/errors.js';

/**
 * Checks that `path` exists and is a file or a folder as `kind` says; otherwise a
 * {@link ConfigError} naming the path, the key it came from and what was expected there.
 */
export async function requirePath(
  path: string,
  kind: 'file' | 'dir' | 'any',
  what: string,
): Promise<'file' | 'dir'> {
  const info = await stat(path).catch(() => null);
  if (!info) throw new ConfigError(`${path} does not exist (expected ${what})`);
  const is = info.isDirectory() ? 'dir' : 'file';
  if (kind !== 'any' && is !== kind) {
    throw new ConfigError(
      `${path} is a ${is === 'dir' ? 'folder' : 'file'}, not a ${kind === 'dir' ? 'folder' : 'file'} (expected ${what})`,
    );
  }
  return is;
}

/** Whether a path exists. */
export async function exists(path: string): Promise<boolean> {
  return (await stat(path).catch(() => null)) !== null;
}

/** Writes a text file under a temporary name, then renames it over `path`. */
export async function writeTextAtomic(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    await writeFile(tmp, text);
    await rename(tmp, path);
  } finally {
    await rm(tmp, { force: true });
  }
}

/**
 * Puts a finished folder `tmp` at `dir`, replacing what is there: the old folder is moved
 * aside first and removed after, so `dir` is always either the old or the new complete one.
 */
export async function replaceDir(tmp: string, dir: string): Promise<void> {
  const old = `${dir}.old-${process.pid}`;
  const had = await exists(dir);
  if (had) await rename(dir, old);
  await rename(tmp, dir);
  if (had) await rm(old, { recursive: true, force: true });
}
