import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { WGSL } from '../src/shaders.gen.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const src = join(root, 'src');

function wgslFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? wgslFiles(join(dir, e.name))
      : e.name.endsWith('.wgsl')
        ? [join(dir, e.name)]
        : [],
  );
}

describe('src/shaders.gen.ts', () => {
  it('holds every .wgsl file under src/ with its current text (run `npm run embed-wgsl` when this fails)', () => {
    const files = wgslFiles(src);
    const expected: Record<string, string> = {};
    for (const f of files) {
      const key = relative(src, f)
        .split(sep)
        .join('/')
        .replace(/\.wgsl$/, '');
      expected[key] = readFileSync(f, 'utf8').replace(/\r\n/g, '\n');
    }
    expect(Object.keys(WGSL).sort()).toEqual(Object.keys(expected).sort());
    for (const [key, text] of Object.entries(expected)) {
      expect(WGSL[key as keyof typeof WGSL], key).toBe(text);
    }
  });

  it('is byte for byte what the generator writes', () => {
    const r = spawnSync(process.execPath, [join(root, 'scripts/embed-wgsl.mjs'), '--check'], {
      encoding: 'utf8',
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});
