#!/usr/bin/env node
import { UsageError, connectDatabase, loadConfig, runCommand } from '@retail/common';
import { exportSeed } from './seed/export-seed.js';

const USAGE = `Usage: npm run export:seed -- --out DIR [--model NAME]

Writes the seed interchange files from the database into DIR:
  user_purchases.json      { "<CustomerID>": ["<StockCode>", ...] }
  product_embeddings.json  { "<StockCode>": { product_id, description, embedding: [1024 floats] } }
                           (the vectors of --model, default the active embedding model)`;

runCommand({
  name: 'export:seed',
  usage: USAGE,
  options: { out: { type: 'string' }, model: { type: 'string' } },
  async run(values) {
    if (!values.out) throw new UsageError('--out DIR is required', USAGE);
    const config = loadConfig();
    const db = await connectDatabase(config.databaseUrl, { max: 1, applicationName: 'export-seed' });
    try {
      const result = await exportSeed(db, values.out, values.model ?? config.embedding.model);
      console.log(`wrote ${result.userPurchases.file} (${result.userPurchases.users} users)`);
      console.log(
        `wrote ${result.productEmbeddings.file} (${result.productEmbeddings.products} products, model ${result.productEmbeddings.model})`,
      );
      return 0;
    } finally {
      await db.end();
    }
  },
});
