#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { ConfigError, connectDatabase, loadConfig } from '@retail/common';
import { exportSeed } from './seed/export-seed.js';

const USAGE = `Usage: npm run export:seed -- --out DIR [--model NAME]

Writes the seed interchange files from the database into DIR:
  user_purchases.json      { "<CustomerID>": ["<StockCode>", ...] }
  product_embeddings.json  { "<StockCode>": { product_id, description, embedding: [1024 floats] } }
                           (the vectors of --model, default the active embedding model)`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { out: { type: 'string' }, model: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (!values.out) {
    console.error(`export:seed: --out DIR is required\n\n${USAGE}`);
    return 2;
  }
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
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`export:seed failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(error instanceof ConfigError ? 2 : 1);
  },
);
