import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import {
  DEFAULT_RECOMMENDER_MIN_PURCHASES,
  SHARED_DATA_FILE,
  loadConfig,
  type Database,
  type RedisClient,
} from '@retail/common';
import { MAX_TOP_N, type RankedProduct } from '@retail/contracts';
import { closeTestStores, openTestStores, runCli } from '@retail/testing';
import { loadEvalData } from '../src/eval/eval-data.js';
import {
  GRID,
  rankOffline,
  scorers,
  temporalSplit,
  type EvalData,
  type EvaluatedModel,
  type OfflineList,
  type Scorers,
  type Split,
} from '../src/eval/evaluation.js';
import {
  COPURCHASE_PARAMS,
  copurchaseInputVector,
  copurchaseItemVector,
  trainCopurchase,
  type CopurchaseFactors,
} from '../src/models/copurchase.js';
import { HYBRID_PARAMS, hybridItemVector } from '../src/models/hybrid.js';
import { descriptionStandsIn } from '../src/ranking/cold-start.js';
import { RankingRepository, type RankingKind } from '../src/ranking/ranking.repository.js';
import { TrainingRepository, type FactorRow } from '../src/training/training.repository.js';

/**
 * `npm run eval` ranks offline (evaluation.ts); the service ranks by one pgvector query
 * (ranking.repository.ts). Here both rank the same split of the real data: the lines of December 2010 and
 * January 2011, the models learning from December 1-3 (cut on the 4th: 117 evaluated customers, 1,471
 * products), so that the co-purchase model trains in seconds.
 */
const CUT = new Date('2010-12-04T00:00:00');
const END = new Date('2011-02-01T00:00:00');
/** A best-seller of the split that the shop takes out of its catalog: in the models, never recommended. */
const RETIRED = '85123A';
/** The split's models, stored under names of their own. */
const MODELS = { description: 'eval-description', copurchase: 'eval-copurchase', hybrid: 'eval-hybrid' };
/** Served lists are MAX_TOP_N long; the offline lists go deeper, to find what a near-tie swapped in. */
const DEPTH = MAX_TOP_N + 20;
/** float32's unit roundoff. */
const U32 = 2 ** -24;

type Kind = EvaluatedModel['kind'];
const KINDS: Kind[] = ['description', 'copurchase', 'hybrid'];
const RANKING_KIND: Record<Kind, RankingKind> = {
  description: 'description',
  copurchase: 'factors',
  hybrid: 'factors',
};
/** The ranking query's answer: how many purchases have a vector in the model, and the list. */
type Served = Awaited<ReturnType<RankingRepository['rank']>>;

let db: Database;
let redis: RedisClient;
let dir: string;
let data: EvalData;
let split: Split;
let factors: CopurchaseFactors;
let s: Scorers;
/** Every evaluated user's answer in each stored model, before any cold-start rule. */
const served = new Map<Kind, Map<number, Served>>();
/** The largest item vector norm of each stored model. */
const itemNorms: Record<Kind, number> = { description: 0, copurchase: 0, hybrid: 0 };

beforeAll(async () => {
  ({ db, redis } = await openTestStores());
  dir = await mkdtemp(path.join(tmpdir(), 'retail-eval-ranking-'));
  const file = path.join(dir, 'december-january.csv');
  await decemberAndJanuary(file);
  const ingest = await runCli('services/ingestion/dist/main.js', ['--file', file, '--no-embeddings']);
  if (ingest.code !== 0) throw new Error(`ingestion failed:\n${ingest.stderr}`);
  const embed = await runCli('services/embedder/dist/embed.cli.js', ['--wait']);
  if (embed.code !== 0) throw new Error(`embedding failed:\n${embed.stdout}${embed.stderr}`);
  await db.query('UPDATE products SET retired_at = now() WHERE product_id = $1', [RETIRED]);
  // Read, split and trained as `npm run eval` does.
  const descriptionModel = loadConfig().embedding.model;
  data = await loadEvalData(db, descriptionModel);
  split = temporalSplit(data, CUT, END, COPURCHASE_PARAMS.trendDays);
  factors = trainCopurchase(split.matrix, COPURCHASE_PARAMS);
  s = scorers(split, data, factors);
  await storeSplitModels(descriptionModel);
  const ranking = new RankingRepository(db);
  for (const kind of KINDS) {
    const lists = new Map<number, Served>();
    for (const customerId of split.users) {
      lists.set(
        customerId,
        await ranking.rank(MODELS[kind], RANKING_KIND[kind], bought(customerId), MAX_TOP_N),
      );
    }
    served.set(kind, lists);
  }
  measureItemNorms();
});

afterAll(async () => {
  await closeTestStores({ db, redis });
  await rm(dir, { recursive: true, force: true });
});

async function decemberAndJanuary(file: string): Promise<void> {
  const kept: string[] = [];
  for await (const line of createInterface({
    input: createReadStream(SHARED_DATA_FILE).pipe(createGunzip()),
  })) {
    if (kept.length === 0 || /,(2010-12|2011-01)-\d\d /.test(line)) kept.push(line);
  }
  await writeFile(file, `${kept.join('\n')}\n`);
}

function descriptionDimensions(): number {
  return data.vectors.values().next().value!.length;
}

/**
 * Stores the split's models as the trainer stores a training's: the description vectors, and the co-purchase
 * and hybrid factors built by the trainer's functions with the served hyperparameters. The offline scorer
 * ranks the split's catalog (the products bought before the cut), not every product with a vector: the
 * stored models hold exactly that catalog, so that both rank the same candidates.
 */
async function storeSplitModels(descriptionModel: string): Promise<void> {
  const catalog = factors.productIds;
  await db.query(
    `INSERT INTO product_embeddings (model, product_id, text_hash, embedding)
     SELECT $1, product_id, text_hash, embedding FROM product_embeddings WHERE model = $2 AND product_id = ANY ($3)`,
    [MODELS.description, descriptionModel, catalog],
  );
  const dimensions = descriptionDimensions();
  const rows = (item: (productId: string, i: number) => Float32Array): FactorRow[] =>
    catalog.map((productId, i) => ({
      productId,
      item: item(productId, i),
      input: copurchaseInputVector(factors, i),
    }));
  const common = {
    trainedFrom: 'the evaluation split',
    customers: factors.users,
    products: catalog.length,
    trainingMs: 0,
  };
  await new TrainingRepository(db).store([
    {
      model: {
        model: MODELS.copurchase,
        kind: 'copurchase',
        dimensions: factors.rank + 1,
        params: { ...factors.params },
        ...common,
      },
      rows: rows((_id, i) => copurchaseItemVector(factors, i)),
    },
    {
      model: {
        model: MODELS.hybrid,
        kind: 'hybrid',
        dimensions: dimensions + factors.rank + 1,
        params: {
          ...factors.params,
          ...HYBRID_PARAMS,
          description_model: MODELS.description,
          description_dimensions: dimensions,
        },
        ...common,
      },
      rows: rows((id, i) => hybridItemVector(data.vectors.get(id), dimensions, factors, i, HYBRID_PARAMS)),
    },
  ]);
}

/** The training purchases of an evaluated user: what the ranking query ranks from. */
function bought(customerId: number): string[] {
  return [...split.matrix.userItems[split.rows.get(customerId)!]!].map((i) => split.matrix.productIds[i]!);
}

/** A model with the served weights (models/), without cold start unless `minPurchases` says. */
function servedModel(kind: Kind, minPurchases = 0): EvaluatedModel {
  if (kind === 'description') return { kind };
  if (kind === 'copurchase') return { kind, trendWeight: COPURCHASE_PARAMS.trendWeight, minPurchases };
  return { kind, ...HYBRID_PARAMS, minPurchases };
}

function norm(v: ArrayLike<number>): number {
  let sum = 0;
  for (let c = 0; c < v.length; c++) sum += v[c]! ** 2;
  return Math.sqrt(sum);
}

function measureItemNorms(): void {
  factors.productIds.forEach((id, i) => {
    const description = data.vectors.get(id);
    if (description) itemNorms.description = Math.max(itemNorms.description, norm(description));
    itemNorms.copurchase = Math.max(itemNorms.copurchase, norm(copurchaseItemVector(factors, i)));
    const hybrid = hybridItemVector(description, descriptionDimensions(), factors, i, HYBRID_PARAMS);
    itemNorms.hybrid = Math.max(itemNorms.hybrid, norm(hybrid));
  });
}

/**
 * How far a served score may be from the offline one through float32 rounding alone, for one user in one
 * model. pgvector stores each component in float32 (relative error 2⁻²⁴), sums the user's m input vectors in
 * float32 (sum(vector)) and accumulates a dot product's d terms in float32; to first order the error of u · v
 * is then at most (d + m + 2)·2⁻²⁴·Σ|u_c v_c| ≤ (d + m + 2)·2⁻²⁴·|u|·|v| (Cauchy–Schwarz), with
 * |u| ≤ Σ|input_j| + 1 for the constant (+ 1 for the hybrid's unit description part; 1 for the description
 * model's unit mean) and |v| at most the model's largest item vector norm. The offline scorer rounds its
 * description and co-purchase parts to float32 once each (+ 2). Served and offline lists may swap two
 * products whose offline scores are closer than this (a near-tie).
 */
function tolerance(kind: Kind, customerId: number): number {
  const items = split.matrix.userItems[split.rows.get(customerId)!]!;
  if (kind === 'description') {
    return (descriptionDimensions() + items.length + 4) * U32 * itemNorms.description;
  }
  const { rank } = factors;
  let inputs = 0;
  for (const j of items) inputs += norm(factors.input.subarray(j * rank, (j + 1) * rank));
  const dimensions = (kind === 'hybrid' ? descriptionDimensions() : 0) + rank + 1;
  const user = inputs + (kind === 'hybrid' ? 2 : 1);
  return (dimensions + items.length + 4) * U32 * user * itemNorms[kind];
}

interface Tally {
  lists: number;
  positions: number;
  /** Positions where the two lists hold different products (near-ties). */
  swaps: number;
  /** The largest |served score - offline score|, and the largest such error over its tolerance. */
  maxError: number;
  maxShare: number;
}

const newTally = (): Tally => ({ lists: 0, positions: 0, swaps: 0, maxError: 0, maxShare: 0 });

/**
 * Where the served list differs from the offline one beyond rounding (none when they are the same): they
 * must hold the same products in the same order, except that two products whose offline scores differ by at
 * most `tie` may swap; and each served score must be within `tie` of the offline score of its product.
 */
function differences(answer: RankedProduct[], offline: OfflineList, tie: number, tally: Tally): string[] {
  const found: string[] = [];
  const length = Math.min(MAX_TOP_N, offline.products.length);
  if (answer.length !== length) found.push(`${answer.length} products served, ${length} offline`);
  const offlineScore = new Map(offline.products.map((id, i) => [id, offline.scores[i]!]));
  tally.lists++;
  answer.forEach((got, i) => {
    tally.positions++;
    const score = offlineScore.get(got.product_id);
    if (score === undefined) {
      found.push(`#${i + 1} ${got.product_id} is not in the offline list`);
      return;
    }
    const error = Math.abs(got.score - score);
    tally.maxError = Math.max(tally.maxError, error);
    tally.maxShare = Math.max(tally.maxShare, error / tie);
    if (error > tie) found.push(`#${i + 1} ${got.product_id} scores ${got.score} served, ${score} offline`);
    if (got.product_id !== offline.products[i]) {
      tally.swaps++;
      if (Math.abs(score - offline.scores[i]!) > tie) {
        found.push(
          `#${i + 1} ${got.product_id} served, ${offline.products[i]} offline (${score} vs ${offline.scores[i]})`,
        );
      }
    }
  });
  return found;
}

describe('npm run eval ranks what is served', () => {
  it('ranks like the ranking query on the same split: same products, same order, up to float32 near-ties', () => {
    const tallies: Record<string, Tally> = {};
    const found: string[] = [];
    for (const kind of KINDS) {
      const offline = rankOffline(split, s, DEPTH, servedModel(kind));
      const tally = (tallies[kind] = newTally());
      for (const customerId of split.users) {
        const answer = served.get(kind)!.get(customerId)!;
        const mine = offline.get(customerId)!;
        // The same count of purchases with a vector in the model (what the cold-start rule reads).
        if (answer.withVectors !== mine.withVectors) {
          found.push(
            `${kind} ${customerId}: ${answer.withVectors} purchases with a vector served, ${mine.withVectors} offline`,
          );
        }
        const where = `${kind} ${customerId}: `;
        for (const d of differences(answer.products, mine, tolerance(kind, customerId), tally))
          found.push(where + d);
      }
      // Every evaluated user has a full list: the comparison covers MAX_TOP_N positions each.
      expect(tally.positions).toBe(split.users.length * MAX_TOP_N);
    }
    expect(found).toEqual([]);
    process.stdout.write(
      `${split.users.length} users, ${split.matrix.productIds.length} products: ${JSON.stringify(tallies)}\n`,
    );
    expect(split.users.length).toBeGreaterThan(100);
  });

  it('never recommends a retired product, which would be recommended otherwise', () => {
    expect(data.retired).toEqual(new Set([RETIRED]));
    expect(factors.productIds).toContain(RETIRED);
    for (const kind of KINDS) {
      for (const answer of served.get(kind)!.values()) {
        expect(answer.products.map((p) => p.product_id)).not.toContain(RETIRED);
      }
    }
    // Ranked as if it were still sold, it makes some of these lists.
    const unretired = temporalSplit({ ...data, retired: new Set() }, CUT, END, COPURCHASE_PARAMS.trendDays);
    const lists = rankOffline(unretired, scorers(unretired, data, factors), MAX_TOP_N, servedModel('hybrid'));
    expect([...lists.values()].some((list) => list.products.includes(RETIRED))).toBe(true);
  });

  it("takes the serving path's cold-start decisions, and then answers the description model's list", () => {
    const thresholds = [...new Set([DEFAULT_RECOMMENDER_MIN_PURCHASES, ...GRID.minPurchases])];
    const tally = newTally();
    const found: string[] = [];
    let standIns = 0;
    for (const kind of ['copurchase', 'hybrid'] as const) {
      for (const minPurchases of thresholds) {
        const offline = rankOffline(split, s, DEPTH, servedModel(kind, minPurchases));
        for (const customerId of split.users) {
          const own = served.get(kind)!.get(customerId)!;
          // RecommendationsService's decision, from the served model's answer.
          const standIn = descriptionStandsIn(own.withVectors, minPurchases);
          const mine = offline.get(customerId)!;
          const where = `${kind} below ${minPurchases}, ${customerId}: `;
          if (mine.standIn !== standIn)
            found.push(`${where}stands in: ${standIn} served, ${mine.standIn} offline`);
          if (standIn) standIns++;
          const answer = standIn ? served.get('description')!.get(customerId)! : own;
          const tie = tolerance(standIn ? 'description' : kind, customerId);
          for (const d of differences(answer.products, mine, tie, tally)) found.push(where + d);
        }
      }
    }
    expect(found).toEqual([]);
    // Both branches are taken: some users stand in at the higher thresholds, most do not.
    expect(standIns).toBeGreaterThan(0);
    expect(standIns).toBeLessThan(tally.lists / 2);
    process.stdout.write(`cold start at ${thresholds.join('/')}: ${standIns} of ${tally.lists} lists\n`);
  });
});
