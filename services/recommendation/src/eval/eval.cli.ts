#!/usr/bin/env node
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { ConfigError, connectDatabase, loadConfig } from '@retail/common';
import { IngestionInputError } from '@retail/ingestion/clean-purchases';
import { loadEvalData, loadEvalDataFromFile } from './eval-data.js';
import {
  evaluate,
  EvaluationInputError,
  GRID,
  servedDefaultsMatch,
  type EvaluationReport,
} from './evaluation.js';

const USAGE = `Usage: npm run eval -- [--cut DATE] [--k N] [--json FILE] [--file PATH] [--lambdas L1,L2,...]

The offline evaluation of every model the service can serve, with best-sellers as the floor, on the
purchases in the database (DATABASE_URL; the description vectors of the active embedding model), or in a
file (--file):
a temporal split at --cut (default 2011-10-01): the models learn from the lines before it only, and are
measured on the products each customer bought for the first time on or after it. Each list is ranked as
the service serves it, over the products sold before the cut: cosine to the mean of the description vectors
of what the customer bought, or the co-purchase (and hybrid) inner product; what they bought, products
described exactly like it and retired products never recommended; and the service's cold-start rule (the
description model stands in for a customer with fewer purchases known to the model than the threshold).
Hyperparameters, the threshold included, are chosen on a validation split of the training period.
  --cut DATE    the split date, YYYY-MM-DD (default 2011-10-01)
  --k N         the cut-off of HR@K, NDCG@K and recall@K (default 12)
  --json FILE   also write {"cut", "k", "users", "models": [{"model", "hr", "ndcg", "recall", "coverage"}]}
  --file PATH   read an Online Retail file (.csv, .csv.gz, .xlsx) with the ingestion's cleaning rules instead
                of the database; its products are described by the configured embedding provider
  --lambdas L   EASE regularisations to try on the validation split (default 250; each costs a training)`;

class UsageError extends Error {}

function parseCut(value: string): Date {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value))
    throw new UsageError(`--cut must be a date like 2011-10-01, not "${value}"`);
  const date = new Date(`${value}T00:00:00`);
  if (Number.isNaN(date.getTime())) throw new UsageError(`--cut is not a valid date: "${value}"`);
  return date;
}

function parseK(value: string): number {
  const k = Number(value);
  if (!Number.isInteger(k) || k < 1 || k > 100)
    throw new UsageError(`--k must be an integer from 1 to 100, not "${value}"`);
  return k;
}

function parseLambdas(value: string): number[] {
  const lambdas = value.split(',').map(Number);
  if (lambdas.length === 0 || lambdas.some((l) => !Number.isFinite(l) || l <= 0)) {
    throw new UsageError(`--lambdas must be positive numbers separated by commas, not "${value}"`);
  }
  return lambdas;
}

function table(report: EvaluationReport): string {
  const header = ['model', `HR@${report.k}`, `NDCG@${report.k}`, `recall@${report.k}`, 'coverage'];
  const rows = report.models.map((m) => [
    m.model,
    m.hr.toFixed(4),
    m.ndcg.toFixed(4),
    m.recall.toFixed(4),
    m.coverage.toFixed(3),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  return [
    line(header),
    `|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`,
    ...rows.map(line),
  ].join('\n');
}

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        cut: { type: 'string', default: '2011-10-01' },
        k: { type: 'string', default: '12' },
        json: { type: 'string' },
        lambdas: { type: 'string' },
        file: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const cut = parseCut(values.cut);
  const k = parseK(values.k);
  const lambdas = values.lambdas === undefined ? GRID.lambdas : parseLambdas(values.lambdas);
  const config = loadConfig();
  const started = Date.now();
  let data;
  if (values.file) {
    data = await loadEvalDataFromFile(values.file, config.embedding);
  } else {
    const db = await connectDatabase(config.databaseUrl, { max: 2, applicationName: 'eval-cli' });
    try {
      data = await loadEvalData(db, config.embedding.model);
    } finally {
      await db.end();
    }
  }
  const say = (message: string) => process.stderr.write(`${message}\n`);
  say(`${data.lines.length} lines, ${data.vectors.size} description vectors (${data.descriptionModel})`);
  const report = evaluate(data, {
    cut,
    k,
    lambdas,
    progress: say,
    trainingProgress: (phase, done, total) => say(`    training ${done}/${total}: ${phase}`),
  });
  const { tuning } = report;
  console.log(
    `\nTemporal split at ${values.cut}: ${report.users} customers bought something new after it; ` +
      `catalog ${report.catalog} products; top ${k}; what they bought before excluded.\n`,
  );
  console.log(table(report));
  console.log(
    `\nChosen on the validation split (${tuning.validationUsers} customers, train before ` +
      `${tuning.validationCut.toISOString().slice(0, 10)}, best NDCG@${k} over lambda ${lambdas.join('/')}, ` +
      `trend ${GRID.trendWeights.join('/')}, description ${GRID.descriptionWeights.join('/')}, cold-start ` +
      `${GRID.minPurchases.join('/')}): lambda ${tuning.lambda}; co-purchase trend weight ${tuning.copurchase.trendWeight}, ` +
      `cold below ${tuning.copurchase.minPurchases} purchases; hybrid description weight ${tuning.hybrid.descriptionWeight}, ` +
      `trend weight ${tuning.hybrid.trendWeight}, cold below ${tuning.hybrid.minPurchases} purchases.`,
  );
  console.log(
    servedDefaultsMatch(tuning)
      ? 'The served models use these values.'
      : 'NOTE: the served models use other values (models/copurchase.ts, models/hybrid.ts): update them to these.',
  );
  console.log(
    `Training the co-purchase model on the split took ${(report.trainingMs / 1000).toFixed(1)} s; the whole evaluation ` +
      `${((Date.now() - started) / 1000).toFixed(0)} s.`,
  );
  if (values.json) {
    const json = {
      cut: values.cut,
      k,
      users: report.users,
      models: report.models.map(({ model, hr, ndcg, recall, coverage, params }) => ({
        model,
        hr,
        ndcg,
        recall,
        coverage,
        ...(params ? { params } : {}),
      })),
    };
    await writeFile(values.json, `${JSON.stringify(json, null, 2)}\n`);
    console.log(`wrote ${values.json}`);
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    const usage = error instanceof UsageError;
    console.error(
      `eval failed: ${error instanceof Error ? error.message : String(error)}${usage ? `\n\n${USAGE}` : ''}`,
    );
    process.exit(
      usage ||
        error instanceof ConfigError ||
        error instanceof EvaluationInputError ||
        error instanceof IngestionInputError
        ? 2
        : 1,
    );
  },
);
