#!/usr/bin/env node
import { parseArgs } from 'node:util';
import {
  ConfigError,
  QueueNames,
  connectDatabase,
  createProgressReporter,
  createQueue,
  enqueueMissingEmbeddings,
  loadConfig,
  type AppConfig,
  type Database,
  type EmbeddingJobData,
  type EnqueueResult,
} from '@retail/common';
import { IngestionInputError } from './errors.js';
import { IngestionService } from './ingestion.service.js';
import { oneLine } from './printable.js';
import { formatReport } from './report.js';

const USAGE = `Usage: npm run ingest -- [--file PATH] [--no-embeddings] [--if-empty]

Loads an Online Retail file (.csv, .csv.gz or .xlsx) into Postgres, replacing the previous data in one
transaction, then queues embedding jobs for products without a vector in the active model.
  --file PATH        the data file (default: DATA_FILE, else the shared copy of the data set)
  --no-embeddings    do not queue embedding jobs
  --if-empty         do nothing when the database already holds purchases (for start-up scripts)`;

async function queueEmbeddings(db: Database, config: AppConfig): Promise<EnqueueResult | string> {
  const queue = createQueue<EmbeddingJobData>(QueueNames.Embeddings, config);
  try {
    return await enqueueMissingEmbeddings(db, queue, config);
  } catch (error) {
    return `${error instanceof Error ? error.message : String(error)} (run \`npm run embed\` when Redis is back)`;
  } finally {
    await queue.close().catch(() => undefined);
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      file: { type: 'string' },
      'no-embeddings': { type: 'boolean', default: false },
      'if-empty': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const config = loadConfig();
  const file = values.file ?? config.dataFile;
  const db = await connectDatabase(config.databaseUrl, { max: 2, applicationName: 'ingestion' });
  try {
    if (values['if-empty']) {
      const { rows } = await db.query<{ n: number }>('SELECT count(*) AS n FROM customers');
      if (rows[0]!.n > 0) {
        console.log(`ingest: the database already holds ${rows[0]!.n} customers; nothing to do (--if-empty)`);
        return 0;
      }
    }
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
}

// Every failure ends with one line on standard error (a configuration error lists each wrong variable).
main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof ConfigError) {
      console.error(`ingest: ${error.message}`);
      process.exit(2);
    }
    if (error instanceof IngestionInputError) {
      console.error(`ingest: ${oneLine(error.message, 600)}; nothing was changed`);
      process.exit(2);
    }
    const message = oneLine(error instanceof Error ? error.message : String(error));
    console.error(`ingest failed: ${message}; nothing was changed: the previous data is intact`);
    process.exit(1);
  },
);
