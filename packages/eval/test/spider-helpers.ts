import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  parseSpiderTables,
  type SpiderSchema,
  type SpiderTablesEntry,
  spiderSchemaFromTables,
} from '../src/spider/index.js';

/** The shared data folder: STATETUNE_DATA when set, else `<repo>/../shared/data`. */
export const dataDir =
  process.env.STATETUNE_DATA ?? fileURLToPath(new URL('../../../../shared/data', import.meta.url));

/** True when the Spider data is present; tests skip with this reason otherwise. */
export const hasSpiderData = existsSync(join(dataDir, 'spider', 'tables.json'));
export const skipReason = `Spider data not found at ${dataDir} (set STATETUNE_DATA)`;

let tables: SpiderTablesEntry[] | undefined;
/** The entries of spider/tables.json. */
export function spiderTables(): SpiderTablesEntry[] {
  tables ??= parseSpiderTables(
    JSON.parse(readFileSync(join(dataDir, 'spider', 'tables.json'), 'utf8')),
  );
  return tables;
}

/** Lines of a text file of the shared data, without empty ones. */
export function dataLines(...path: string[]): string[] {
  return readFileSync(join(dataDir, ...path), 'utf8')
    .split('\n')
    .filter((l) => l.trim().length > 0);
}

/** The `tables.json` entry of concert_singer, written out so tests run without the data. */
export const CONCERT_SINGER: SpiderTablesEntry = {
  db_id: 'concert_singer',
  table_names_original: ['stadium', 'singer', 'concert', 'singer_in_concert'],
  column_names_original: [
    [-1, '*'],
    [0, 'Stadium_ID'],
    [0, 'Location'],
    [0, 'Name'],
    [0, 'Capacity'],
    [0, 'Highest'],
    [0, 'Lowest'],
    [0, 'Average'],
    [1, 'Singer_ID'],
    [1, 'Name'],
    [1, 'Country'],
    [1, 'Song_Name'],
    [1, 'Song_release_year'],
    [1, 'Age'],
    [1, 'Is_male'],
    [2, 'concert_ID'],
    [2, 'concert_Name'],
    [2, 'Theme'],
    [2, 'Stadium_ID'],
    [2, 'Year'],
    [3, 'concert_ID'],
    [3, 'Singer_ID'],
  ],
  foreign_keys: [
    [18, 1],
    [21, 8],
    [20, 15],
  ],
};

/** The schema of concert_singer. */
export function concertSinger(): SpiderSchema {
  return spiderSchemaFromTables(CONCERT_SINGER);
}
