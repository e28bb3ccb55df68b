import { createRequire } from 'node:module';
import { dirname } from 'node:path';

// The only use of `import.meta.url` in the package; tsup's shims provide it in the CommonJS
// build (tsup.config.ts).
const requireHere = createRequire(import.meta.url);

/**
 * The folder of an installed package, found the way Node finds the package from this one
 * (through its `package.json`, which also works for packages without a main entry).
 */
export function packageDir(name: string): string {
  return dirname(requireHere.resolve(`${name}/package.json`));
}

/** Resolves a module specifier from this package, as `require.resolve` would. */
export function resolveModule(specifier: string): string {
  return requireHere.resolve(specifier);
}
