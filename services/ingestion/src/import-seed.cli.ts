#!/usr/bin/env node
import { UsageError, connectDatabase, loadConfig, runCommand } from '@retail/common';
import { IngestionInputError } from './errors.js';
import { importSeed } from './seed/import-seed.js';

const USAGE = `Usage: npm run import:seed -- --dir DIR [--model NAME]

Loads DIR/product_embeddings.json (the seed's format) as the vectors of --model (default EMBEDDING_MODEL,
the model the seed was made with). Every vector must have 1024 finite values; one bad entry refuses the
whole file. StockCodes that are not in the catalog are reported and skipped (ingest the data first).`;

runCommand({
  name: 'import:seed',
  usage: USAGE,
  options: { dir: { type: 'string' }, model: { type: 'string' } },
  isInputError: (error) => error instanceof IngestionInputError,
  async run(values) {
    if (!values.dir) throw new UsageError('--dir DIR is required', USAGE);
    const config = loadConfig();
    const model = values.model ?? process.env.EMBEDDING_MODEL ?? 'Qwen/Qwen3-Embedding-0.6B';
    const db = await connectDatabase(config.databaseUrl, { max: 2, applicationName: 'import-seed' });
    try {
      const result = await importSeed(db, values.dir, model);
      console.log(`imported ${result.imported} vectors for model ${result.model} from ${result.file}`);
      if (result.unknownProducts.length > 0) {
        console.log(
          `skipped ${result.unknownProducts.length} StockCodes not in the catalog: ${result.unknownProducts.slice(0, 10).join(', ')}` +
            (result.unknownProducts.length > 10 ? ', ...' : ''),
        );
      }
      return 0;
    } finally {
      await db.end();
    }
  },
});
