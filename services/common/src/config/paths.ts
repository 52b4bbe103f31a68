import { existsSync } from 'node:fs';
import path from 'node:path';

/** The repository root (this file lives in services/common/{src,dist}/config). */
export const REPO_ROOT = path.resolve(import.meta.dirname, '..', '..', '..', '..');

/** Where the schema migrations live. */
export const MIGRATIONS_DIR = path.join(REPO_ROOT, 'migrations');

/** The UCI distribution of the Online Retail data set (a zip holding `Online Retail.xlsx`). */
export const UCI_ONLINE_RETAIL_URL = 'https://archive.ics.uci.edu/static/public/352/online+retail.zip';

/** The shared copy of the data set next to the repository, when this machine has one. */
export const SHARED_DATA_FILE = path.resolve(
  REPO_ROOT,
  '..',
  'shared',
  'data',
  'online-retail',
  'online_retail.csv.gz',
);

/** DATA_FILE's default: the shared copy when present, else the UCI download. */
export function defaultDataFile(): string {
  return existsSync(SHARED_DATA_FILE) ? SHARED_DATA_FILE : UCI_ONLINE_RETAIL_URL;
}
