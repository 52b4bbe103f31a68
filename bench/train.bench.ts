#!/usr/bin/env node
/**
 * `npm run bench:train`: how long training the models learned from purchases takes, phase by phase, on the
 * real data in the bench database (BENCH_DATABASE_URL, default retail_bench; loaded and embedded first when
 * it is not), wall and CPU time (CPU counts every thread of the process):
 *   reading   the purchases, and building the user-item matrix;
 *   training  each phase of trainCopurchase, on one thread and on the default number (the machine's cores);
 *   kernels   the largest products alone at the real sizes, in GFLOP/s (n x n triangular times n x width);
 *   storing   reading the description vectors, building the rows, writing both models (one transaction);
 *   all       trainModels as the training job runs it (forced), which the service's worker does after an
 *             ingestion.
 * BENCH_RUNS times each (default 2). Prints the machine's load average (1, 5, 15 min) next to the figures:
 * on a shared machine, compare CPU times.
 */
import { availableParallelism } from 'node:os';
import { LOCAL_EMBEDDING_MODEL, connectDatabase } from '@retail/common';
import {
  COPURCHASE_PARAMS,
  buildPurchaseMatrix,
  trainCopurchase,
} from '../services/recommendation/dist/models/copurchase.js';
import { LinalgWorkspace, defaultThreads } from '../services/recommendation/dist/models/kernels.js';
import {
  modelsToStore,
  trainModels,
  trainingAsOf,
} from '../services/recommendation/dist/training/model-trainer.js';
import { TrainingRepository } from '../services/recommendation/dist/training/training.repository.js';
import { BENCH_DATABASE_URL as DATABASE_URL, load, prepareBenchDatabase, runBench } from './bench-kit.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 2);
const DESCRIPTION_MODEL = LOCAL_EMBEDDING_MODEL;

const seconds = (ms: number) => `${(ms / 1000).toFixed(2).padStart(6)} s`;

/** Wall and CPU time of `body`. */
async function timed<T>(body: () => T | Promise<T>): Promise<{ value: T; wall: number; cpu: number }> {
  const cpu = process.cpuUsage();
  const wall = performance.now();
  const value = await body();
  const used = process.cpuUsage(cpu);
  return { value, wall: performance.now() - wall, cpu: (used.user + used.system) / 1000 };
}

function line(label: string, t: { wall: number; cpu: number }, extra = ''): void {
  console.log(`  ${label.padEnd(34)} ${seconds(t.wall)} wall ${seconds(t.cpu)} CPU   ${extra}`.trimEnd());
}

async function main(): Promise<void> {
  const env = {
    DATABASE_URL,
    QUEUE_PREFIX: process.env.QUEUE_PREFIX ?? 'retail-bench',
    EMBEDDING_PROVIDER: 'local',
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
  };
  await prepareBenchDatabase(env, { train: false });
  const db = await connectDatabase(DATABASE_URL, { max: 2, applicationName: 'bench-train' });
  const repository = new TrainingRepository(db);
  try {
    console.log(`${availableParallelism()} cores; default training threads ${defaultThreads()}`);
    for (let run = 1; run <= RUNS; run++) {
      console.log(`\nrun ${run}: load average ${load()}`);
      const read = await timed(() => repository.purchases());
      line('reading the purchases', read, `${read.value.length} (customer, product) pairs`);
      const asOf = trainingAsOf(read.value);
      const built = await timed(() => buildPurchaseMatrix(read.value, asOf, COPURCHASE_PARAMS.trendDays));
      const matrix = built.value;
      line('the user-item matrix', built, `${matrix.customerIds.length} x ${matrix.productIds.length}`);

      let factors: ReturnType<typeof trainCopurchase> | undefined;
      for (const threads of [...new Set([1, defaultThreads()])]) {
        console.log(`  training on ${threads} thread(s), load ${load()}:`);
        let wall = performance.now();
        let cpu = process.cpuUsage();
        const total = await timed(() =>
          trainCopurchase(
            matrix,
            COPURCHASE_PARAMS,
            (phase, done, steps) => {
              const used = process.cpuUsage(cpu);
              line(`  ${done}/${steps} ${phase}`, {
                wall: performance.now() - wall,
                cpu: (used.user + used.system) / 1000,
              });
              wall = performance.now();
              cpu = process.cpuUsage();
            },
            threads,
          ),
        );
        line('  training', total);
        factors = total.value;
      }

      console.log(`  kernels on ${defaultThreads()} thread(s), load ${load()}:`);
      const n = matrix.productIds.length;
      const width = COPURCHASE_PARAMS.rank + COPURCHASE_PARAMS.oversample;
      const ws = new LinalgWorkspace();
      try {
        const m = ws.matrix(n, n);
        const y = ws.matrix(n, width);
        const out = ws.matrix(n, width);
        for (let i = 0; i < n; i++)
          for (let j = 0; j <= i; j++) m.data[i * n + j] = ((i * 31 + j * 17) % 97) / 97;
        for (let i = 0; i < y.data.length; i++) y.data[i] = ((i * 13) % 89) / 89;
        const flops = n * n * width; // a triangular n x n times n x width: n² width multiply-adds / 2 x 2
        for (const [label, multiply] of [
          ['M Y', () => ws.lowerMultiply(m, y, out)],
          ['Mᵀ Y', () => ws.lowerTransposedMultiply(m, y, out)],
        ] as const) {
          const t = await timed(multiply);
          line(
            `  ${label} (${n} x ${n} lower, ${width} columns)`,
            t,
            `${(flops / t.wall / 1e6).toFixed(1)} GFLOP/s`,
          );
        }
        const ortho = await timed(() => ws.orthonormaliseColumns(y));
        line(`  orthonormalise ${n} x ${width}`, ortho);
      } finally {
        ws.close();
      }

      console.log(`  storing, load ${load()}:`);
      const descriptions = await timed(() => repository.descriptionVectors(DESCRIPTION_MODEL));
      line('  reading the description vectors', descriptions, `${descriptions.value.size} vectors`);
      const state = await repository.state(DESCRIPTION_MODEL);
      const rows = await timed(() =>
        modelsToStore(factors!, descriptions.value, {
          descriptionModel: DESCRIPTION_MODEL,
          state,
          asOf,
          trainingMs: 0,
        }),
      );
      line('  building the rows', rows, rows.value.map((m) => `${m.rows.length} ${m.model.kind}`).join(', '));
      const stored = await timed(() => repository.store(rows.value));
      line('  writing both models', stored);

      const all = await timed(() => trainModels(db, DESCRIPTION_MODEL, { force: true }));
      line(
        'all: trainModels (forced)',
        all,
        `training ${seconds(all.value.training_ms)}, storing ${seconds(all.value.storing_ms)}, load ${load()}`,
      );
    }
  } finally {
    await db.end();
  }
}

runBench('bench:train', main);
