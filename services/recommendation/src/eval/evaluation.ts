import {
  buildPurchaseMatrix,
  COPURCHASE_PARAMS,
  trainCopurchase,
  type CopurchaseFactors,
  type CopurchaseParams,
  type PurchaseMatrix,
  type PurchaseRecord,
  type TrainingProgress,
} from '../models/copurchase.js';
import { DEFAULT_RECOMMENDER_MIN_PURCHASES } from '@retail/common';
import { HYBRID_PARAMS, type HybridParams } from '../models/hybrid.js';
import { descriptionStandsIn } from '../ranking/cold-start.js';
import { rankingMetrics, topK, type RankingMetrics } from './metrics.js';

/** One cleaned invoice line of a merchandise product. */
export interface EvalLine {
  customerId: number;
  productId: string;
  at: Date;
}

/** What the evaluation reads: the lines, and each product's description and description vector. */
export interface EvalData {
  lines: EvalLine[];
  descriptions: ReadonlyMap<string, string>;
  vectors: ReadonlyMap<string, Float32Array>;
  /** Products the shop took out of its catalog: learned from, never recommended (as the service does). */
  retired: ReadonlySet<string>;
  /** The description model's name (for the table). */
  descriptionModel: string;
}

/** A temporal split: what the models learn from (before `cut`) and what the users bought new after it. */
export interface Split {
  cut: Date;
  end: Date;
  matrix: PurchaseMatrix;
  /** The evaluated users: bought before the cut and something new in [cut, end). */
  users: number[];
  /** Row of each evaluated user in the matrix. */
  rows: Map<number, number>;
  targets: Map<number, Set<string>>;
  /** Per evaluated user, the catalog indices never recommended (the service's rule): what they bought, every
   * product described exactly like it, and the retired products. */
  excluded: Map<number, Set<number>>;
}

export interface ModelResult extends RankingMetrics {
  model: string;
  /** The hyperparameters chosen on the validation split, where there are any. */
  params?: Record<string, number>;
}

export interface Tuning {
  lambda: number;
  copurchase: { trendWeight: number; minPurchases: number; ndcg: number };
  hybrid: { descriptionWeight: number; trendWeight: number; minPurchases: number; ndcg: number };
  validationCut: Date;
  validationUsers: number;
}

export interface EvaluationReport {
  cut: Date;
  k: number;
  users: number;
  catalog: number;
  tuning: Tuning;
  models: ModelResult[];
  trainingMs: number;
}

export interface EvaluationOptions {
  cut: Date;
  k: number;
  /** Candidates for lambda; trend weights, description weights and cold-start thresholds (see GRID). */
  lambdas?: number[];
  params?: Partial<CopurchaseParams>;
  progress?: (message: string) => void;
  trainingProgress?: TrainingProgress;
}

/**
 * The hyperparameters tried on the validation split. Lambda stays at EASE's usual 250 unless asked
 * (`--lambdas`): on this data 125, 250 and 500 differ by less than 0.002 NDCG@12 on the validation split,
 * below its noise, and each value costs a training.
 */
export const GRID = {
  lambdas: [250],
  trendWeights: [0, 0.05, 0.1, 0.2, 0.3, 0.5],
  descriptionWeights: [0, 0.1, 0.2, 0.3, 0.5, 0.75, 1],
  minPurchases: [1, 3, 5],
};

/**
 * Splits the lines at `cut`: the matrix is built from the lines before it only (so nothing a model learns
 * comes from the test period); the evaluated users are those who bought before the cut and bought a product
 * new to them in [cut, end).
 */
export function temporalSplit(data: EvalData, cut: Date, end: Date, trendDays: number): Split {
  const last = new Map<string, PurchaseRecord>();
  const later = new Map<number, Set<string>>();
  for (const line of data.lines) {
    if (line.at < cut) {
      const key = `${line.customerId}\t${line.productId}`;
      const seen = last.get(key);
      if (!seen)
        last.set(key, { customerId: line.customerId, productId: line.productId, lastPurchasedAt: line.at });
      else if (seen.lastPurchasedAt < line.at) seen.lastPurchasedAt = line.at;
    } else if (line.at < end) {
      let bought = later.get(line.customerId);
      if (!bought) later.set(line.customerId, (bought = new Set()));
      bought.add(line.productId);
    }
  }
  const matrix = buildPurchaseMatrix([...last.values()], cut, trendDays);
  const byDescription = new Map<string, number[]>();
  matrix.productIds.forEach((id, i) => {
    const description = data.descriptions.get(id);
    if (!description) return;
    const same = byDescription.get(description);
    if (same) same.push(i);
    else byDescription.set(description, [i]);
  });
  const retired = matrix.productIds.flatMap((id, i) => (data.retired.has(id) ? [i] : []));
  const users: number[] = [];
  const rows = new Map<number, number>();
  const targets = new Map<number, Set<string>>();
  const excluded = new Map<number, Set<number>>();
  matrix.customerIds.forEach((customerId, row) => {
    const items = matrix.userItems[row]!;
    const before = new Set([...items].map((i) => matrix.productIds[i]!));
    const fresh = [...(later.get(customerId) ?? [])].filter((id) => !before.has(id));
    if (fresh.length === 0) return;
    users.push(customerId);
    rows.set(customerId, row);
    targets.set(customerId, new Set(fresh));
    const never = new Set<number>([...items, ...retired]);
    for (const i of items) {
      const description = data.descriptions.get(matrix.productIds[i]!);
      for (const same of (description && byDescription.get(description)) || []) never.add(same);
    }
    excluded.set(customerId, never);
  });
  return { cut, end, matrix, users, rows, targets, excluded };
}

/** Scores of every evaluated user against every catalog product, one row per user (float32). */
interface ScoreTable {
  cols: number;
  data: Float32Array;
}

/**
 * The description model's scores: cosine between each product's description vector and the normalised mean
 * of the description vectors of what the user bought (the vectors are L2-normalised); -Infinity for a
 * product without a vector, or every product when none of the user's purchases has one.
 */
function descriptionScores(split: Split, data: EvalData): ScoreTable {
  const { matrix } = split;
  const n = matrix.productIds.length;
  const vectors = matrix.productIds.map((id) => data.vectors.get(id));
  const dim = vectors.find(Boolean)?.length ?? 0;
  const out = new Float32Array(split.users.length * n);
  const mean = new Float64Array(dim);
  split.users.forEach((customerId, u) => {
    mean.fill(0);
    let count = 0;
    for (const i of matrix.userItems[split.rows.get(customerId)!]!) {
      const v = vectors[i];
      if (!v) continue;
      count++;
      for (let c = 0; c < dim; c++) mean[c]! += v[c]!;
    }
    let norm = 0;
    for (let c = 0; c < dim; c++) norm += mean[c]! ** 2;
    norm = Math.sqrt(norm);
    for (let i = 0; i < n; i++) {
      const v = vectors[i];
      if (!v || count === 0) {
        out[u * n + i] = -Infinity;
        continue;
      }
      let s = 0;
      for (let c = 0; c < dim; c++) s += v[c]! * mean[c]!;
      out[u * n + i] = s / norm;
    }
  });
  return { cols: n, data: out };
}

/** The co-purchase scores without the trend term: (sum of the bought input vectors) . output_i. */
function copurchaseScores(split: Split, factors: CopurchaseFactors): ScoreTable {
  const n = factors.productIds.length;
  const { rank } = factors;
  const out = new Float32Array(split.users.length * n);
  const user = new Float64Array(rank);
  split.users.forEach((customerId, u) => {
    user.fill(0);
    for (const j of split.matrix.userItems[split.rows.get(customerId)!]!) {
      for (let c = 0; c < rank; c++) user[c]! += factors.input[j * rank + c]!;
    }
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let c = 0; c < rank; c++) s += user[c]! * factors.output[i * rank + c]!;
      out[u * n + i] = s;
    }
  });
  return { cols: n, data: out };
}

/** A list: the products best first, with their scores. */
interface Ranked {
  products: string[];
  scores: number[];
}

/** Lists from a per-user score function (-Infinity: not a candidate), what the user bought excluded. */
function listsOf(
  split: Split,
  k: number,
  score: (u: number, out: Float64Array) => void,
): Map<number, Ranked> {
  const n = split.matrix.productIds.length;
  const scores = new Float64Array(n);
  const mask = new Uint8Array(n);
  const lists = new Map<number, Ranked>();
  split.users.forEach((customerId, u) => {
    score(u, scores);
    const excluded = split.excluded.get(customerId)!;
    for (const i of excluded) mask[i] = 1;
    const best = topK(scores, k, mask);
    lists.set(customerId, {
      products: best.map((i) => split.matrix.productIds[i]!),
      scores: best.map((i) => scores[i]!),
    });
    for (const i of excluded) mask[i] = 0;
  });
  return lists;
}

/** The products of each list (what the metrics read). */
function productsOf(lists: ReadonlyMap<number, Ranked>): Map<number, string[]> {
  return new Map([...lists].map(([user, list]) => [user, list.products]));
}

/** A model as the evaluation ranks it: its kind, the weights of its parts and its cold-start threshold. */
export type EvaluatedModel =
  | { kind: 'description' }
  | { kind: 'copurchase'; trendWeight: number; minPurchases: number }
  | { kind: 'hybrid'; descriptionWeight: number; trendWeight: number; minPurchases: number };

/** One user's list as the evaluation ranks it. */
export interface OfflineList extends Ranked {
  /** Their training purchases with a vector in the model: what the cold-start rule counts. */
  withVectors: number;
  /** The description model's list answers instead of the model's (descriptionStandsIn). */
  standIn: boolean;
}

/**
 * What the lists of one split are ranked from: the description and co-purchase scores of every evaluated user
 * against the split's catalog, the trend, and how many of each user's purchases have a vector in each model.
 */
export interface Scorers {
  description: ScoreTable;
  copurchase: ScoreTable;
  trend: Float64Array;
  /** Per evaluated user and model: their training purchases with a vector in it (counted as serving does). */
  withVectors: Record<EvaluatedModel['kind'], Int32Array>;
}

/**
 * The scorers of `split` for a co-purchase model trained on its matrix. A product has a vector in the
 * description model when it has a description vector; in the co-purchase model when the training saw it; in
 * the hybrid when either holds (the trainer stores the union).
 */
export function scorers(
  split: Split,
  data: EvalData,
  factors: CopurchaseFactors,
  description?: ScoreTable,
): Scorers {
  const trained = new Set(factors.productIds);
  const count = (has: (productId: string) => boolean): Int32Array =>
    Int32Array.from(split.users, (customerId) => {
      let n = 0;
      for (const i of split.matrix.userItems[split.rows.get(customerId)!]!) {
        if (has(split.matrix.productIds[i]!)) n++;
      }
      return n;
    });
  return {
    description: description ?? descriptionScores(split, data),
    copurchase: copurchaseScores(split, factors),
    trend: factors.trend,
    withVectors: {
      description: count((id) => data.vectors.has(id)),
      copurchase: count((id) => trained.has(id)),
      hybrid: count((id) => trained.has(id) || data.vectors.has(id)),
    },
  };
}

/**
 * Every evaluated user's top `k` in `model`, computed as the ranking query serves it
 * (ranking/ranking.repository.ts) from the same training purchases, over the split's catalog (the products
 * bought before the cut):
 * - description: cosine against the normalised mean of the bought products' description vectors;
 * - co-purchase: (sum of the bought products' input vectors) . output_i + trendWeight * trend_i;
 * - hybrid: that, plus descriptionWeight * the description model's cosine (0 for a product without a
 *   description vector);
 * what the user bought and every product described like it excluded; and for a co-purchase or hybrid model,
 * the description model's list instead when descriptionStandsIn (the serving path's cold-start rule).
 */
export function rankOffline(
  split: Split,
  s: Scorers,
  k: number,
  model: EvaluatedModel,
): Map<number, OfflineList> {
  const n = s.description.cols;
  const withVectors = s.withVectors[model.kind];
  const standIn = split.users.map(
    (_customerId, u) =>
      model.kind !== 'description' && descriptionStandsIn(withVectors[u]!, model.minPurchases),
  );
  const lists = listsOf(split, k, (u, out) => {
    for (let i = 0; i < n; i++) {
      const d = s.description.data[u * n + i]!;
      if (model.kind === 'description' || standIn[u]) out[i] = d;
      else
        out[i] =
          s.copurchase.data[u * n + i]! +
          model.trendWeight * s.trend[i]! +
          (model.kind === 'copurchase' || d === -Infinity ? 0 : model.descriptionWeight * d);
    }
  });
  return new Map(
    split.users.map((customerId, u) => [
      customerId,
      { ...lists.get(customerId)!, withVectors: withVectors[u]!, standIn: standIn[u]! },
    ]),
  );
}

/** Best-sellers: products bought by the most customers before the cut. */
function bestSellers(split: Split, k: number): Map<number, Ranked> {
  const popularity = new Float64Array(split.matrix.productIds.length);
  for (const items of split.matrix.userItems) for (const i of items) popularity[i]! += 1;
  return listsOf(split, k, (_u, out) => out.set(popularity));
}

/** Bad input for the evaluation (a cut outside the data, nobody to evaluate): exit code 2. */
export class EvaluationInputError extends Error {}

/**
 * The offline evaluation: hyperparameters are chosen on a validation split of the training period (train
 * before cut - (end - cut), validate on the window up to the cut, same length as the test window; the best
 * NDCG@K wins; lambda by the hybrid's, since one factorisation serves both models), then every model is
 * trained on all the lines before the cut with those choices and measured on what the users bought new after
 * it. Every list is ranked as the service serves it (rankOffline), cold-start rule included.
 */
export function evaluate(data: EvalData, options: EvaluationOptions): EvaluationReport {
  const log = options.progress ?? (() => {});
  const base: CopurchaseParams = { ...COPURCHASE_PARAMS, ...options.params };
  const { k, cut } = options;
  let latest = 0;
  let earliest = Infinity;
  for (const line of data.lines) {
    latest = Math.max(latest, line.at.getTime());
    earliest = Math.min(earliest, line.at.getTime());
  }
  const end = new Date(latest + 1);
  if (!(cut.getTime() > earliest && cut.getTime() <= latest)) {
    throw new EvaluationInputError(
      `the cut ${cut.toISOString().slice(0, 10)} is outside the data (${new Date(earliest).toISOString().slice(0, 10)} to ${new Date(latest).toISOString().slice(0, 10)})`,
    );
  }
  const validationCut = new Date(cut.getTime() - (end.getTime() - cut.getTime()));
  if (validationCut.getTime() <= earliest) {
    throw new EvaluationInputError(
      'the cut leaves too little history for a validation split: choose a later cut',
    );
  }

  // 1. Tuning on the validation split.
  log(
    `validation split: train before ${day(validationCut)}, validate on ${day(validationCut)} to ${day(cut)}`,
  );
  const validation = temporalSplit(data, validationCut, cut, base.trendDays);
  if (validation.users.length === 0)
    throw new EvaluationInputError('nobody bought anything new in the validation window');
  const validationDescription = descriptionScores(validation, data);
  let best: Tuning | undefined;
  for (const lambda of options.lambdas ?? GRID.lambdas) {
    log(`validation: training the co-purchase model with lambda ${lambda}`);
    const factors = trainCopurchase(validation.matrix, { ...base, lambda }, options.trainingProgress);
    const s = scorers(validation, data, factors, validationDescription);
    const copurchase = { trendWeight: 0, minPurchases: 1, ndcg: -1 };
    const hybrid = { descriptionWeight: 0, trendWeight: 0, minPurchases: 1, ndcg: -1 };
    const ndcgOf = (model: EvaluatedModel): number =>
      rankingMetrics(
        productsOf(rankOffline(validation, s, k, model)),
        validation.targets,
        k,
        validation.matrix.productIds.length,
      ).ndcg;
    for (const trendWeight of GRID.trendWeights) {
      for (const minPurchases of GRID.minPurchases) {
        const ndcg = ndcgOf({ kind: 'copurchase', trendWeight, minPurchases });
        if (ndcg > copurchase.ndcg) Object.assign(copurchase, { trendWeight, minPurchases, ndcg });
        for (const descriptionWeight of GRID.descriptionWeights) {
          const ndcg = ndcgOf({ kind: 'hybrid', descriptionWeight, trendWeight, minPurchases });
          if (ndcg > hybrid.ndcg)
            Object.assign(hybrid, { descriptionWeight, trendWeight, minPurchases, ndcg });
        }
      }
    }
    log(
      `  lambda ${lambda}: co-purchase NDCG@${k} ${copurchase.ndcg.toFixed(4)} (trend ${copurchase.trendWeight}, ` +
        `cold below ${copurchase.minPurchases}); hybrid ${hybrid.ndcg.toFixed(4)} (description ${hybrid.descriptionWeight}, ` +
        `trend ${hybrid.trendWeight}, cold below ${hybrid.minPurchases})`,
    );
    // One factorisation serves both models: lambda is the one the hybrid (the default model) does best with.
    if (!best || hybrid.ndcg > best.hybrid.ndcg) {
      best = { lambda, copurchase, hybrid, validationCut, validationUsers: validation.users.length };
    }
  }
  const tuning = best!;

  // 2. The test: everything trained on the lines before the cut.
  log(`test split: train before ${day(cut)}, test on ${day(cut)} to ${day(end)}`);
  const test = temporalSplit(data, cut, end, base.trendDays);
  if (test.users.length === 0) throw new EvaluationInputError('nobody bought anything new after the cut');
  const started = Date.now();
  log(`test: training the co-purchase model with lambda ${tuning.lambda}`);
  const factors = trainCopurchase(test.matrix, { ...base, lambda: tuning.lambda }, options.trainingProgress);
  const trainingMs = Date.now() - started;
  const s = scorers(test, data, factors);
  const n = test.matrix.productIds.length;
  const measure = (
    model: string,
    lists: ReadonlyMap<number, Ranked>,
    params?: Record<string, number>,
  ): ModelResult => ({
    model,
    ...rankingMetrics(productsOf(lists), test.targets, k, n),
    ...(params ? { params } : {}),
  });
  const { copurchase, hybrid } = tuning;
  const models = [
    measure('best-sellers', bestSellers(test, k)),
    measure(`description (${data.descriptionModel})`, rankOffline(test, s, k, { kind: 'description' })),
    measure(
      'copurchase',
      rankOffline(test, s, k, {
        kind: 'copurchase',
        trendWeight: copurchase.trendWeight,
        minPurchases: copurchase.minPurchases,
      }),
      {
        lambda: tuning.lambda,
        rank: factors.rank,
        trend_weight: copurchase.trendWeight,
        min_purchases: copurchase.minPurchases,
      },
    ),
    measure(
      'hybrid',
      rankOffline(test, s, k, {
        kind: 'hybrid',
        descriptionWeight: hybrid.descriptionWeight,
        trendWeight: hybrid.trendWeight,
        minPurchases: hybrid.minPurchases,
      }),
      {
        lambda: tuning.lambda,
        rank: factors.rank,
        description_weight: hybrid.descriptionWeight,
        trend_weight: hybrid.trendWeight,
        min_purchases: hybrid.minPurchases,
      },
    ),
  ];
  return { cut, k, users: test.users.length, catalog: n, tuning, models, trainingMs };
}

/** Whether the served constants are the ones the evaluation chose (printed by `npm run eval`). */
export function servedDefaultsMatch(tuning: Tuning, hybrid: HybridParams = HYBRID_PARAMS): boolean {
  return (
    tuning.lambda === COPURCHASE_PARAMS.lambda &&
    tuning.copurchase.trendWeight === COPURCHASE_PARAMS.trendWeight &&
    tuning.hybrid.descriptionWeight === hybrid.descriptionWeight &&
    tuning.hybrid.trendWeight === hybrid.trendWeight &&
    tuning.copurchase.minPurchases === DEFAULT_RECOMMENDER_MIN_PURCHASES &&
    tuning.hybrid.minPurchases === DEFAULT_RECOMMENDER_MIN_PURCHASES
  );
}

function day(date: Date): string {
  return date.toISOString().slice(0, 10);
}
