#!/usr/bin/env node
import {
  connectDatabase,
  loadConfig,
  queueMissingEmbeddings,
  runCommand,
  type AppConfig,
  type Database,
  type EnqueueResult,
} from '@retail/common';
import { createProgressReporter } from '@retail/common/progress';
import { IngestionInputError } from './errors.js';

const USAGE = `Usage: npm run ingest -- [--file PATH] [--no-embeddings] [--if-empty]

Loads an Online Retail file (.csv, .csv.gz or .xlsx) into Postgres, replacing the previous data in one
transaction, then queues embedding jobs for products without a vector in the active model. Purchases posted
through the API are kept (an invoice the file also holds counts once, as the file has it), so are the shop's
product descriptions; erased customers stay erased.
  --file PATH        the data file (default: DATA_FILE, else the shared copy of the data set)
  --no-embeddings    do not queue embedding jobs
  --if-empty         do nothing when the database already holds purchases (for start-up scripts)`;

async function queueEmbeddings(db: Database, config: AppConfig): Promise<EnqueueResult | string> {
  try {
    return await queueMissingEmbeddings(db, config);
  } catch (error) {
    return `${error instanceof Error ? error.message : String(error)} (run \`npm run embed\` when Redis is back)`;
  }
}

runCommand({
  name: 'ingest',
  usage: USAGE,
  options: {
    file: { type: 'string' },
    'no-embeddings': { type: 'boolean', default: false },
    'if-empty': { type: 'boolean', default: false },
  },
  isInputError: (error) => error instanceof IngestionInputError,
  afterFailure: (kind) =>
    kind === 'input' ? '; nothing was changed' : '; nothing was changed: the previous data is intact',
  async run(values) {
    const config = loadConfig();
    const file = values.file ?? config.dataFile;
    const db = await connectDatabase(config.databaseUrl, { max: 2, applicationName: 'ingestion' });
    try {
      if (values['if-empty']) {
        const { rows } = await db.query<{ n: number }>('SELECT count(*) AS n FROM customers');
        if (rows[0]!.n > 0) {
          console.log(
            `ingest: the database already holds ${rows[0]!.n} customers; nothing to do (--if-empty)`,
          );
          return 0;
        }
      }
      // Loaded only now: a start that finds the data in place (--if-empty) ends a second sooner.
      const [{ IngestionService }, { formatReport }] = await Promise.all([
        import('./ingestion.service.js'),
        import('./report.js'),
      ]);
      const progress = createProgressReporter();
      const report = await new IngestionService(db, progress).ingest(file).catch((error: unknown) => {
        // On a terminal, end the progress bar's line (and show the cursor again) before the error line.
        if (process.stderr.isTTY) progress.stop();
        throw error;
      });
      const embeddings = values['no-embeddings'] ? undefined : await queueEmbeddings(db, config);
      console.log(formatReport(report, embeddings));
      return 0;
    } finally {
      await db.end();
    }
  },
});
