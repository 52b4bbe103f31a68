import {
  COPURCHASE_MODEL,
  hybridModel,
  sha256Hex,
  type Database,
  type TrainingJobResult,
} from '@retail/common';
import {
  buildPurchaseMatrix,
  COPURCHASE_PARAMS,
  copurchaseInputVector,
  copurchaseItemVector,
  trainCopurchase,
  type CopurchaseFactors,
  type PurchaseRecord,
  type TrainingProgress,
} from '../models/copurchase.js';
import { HYBRID_PARAMS, hybridItemVector } from '../models/hybrid.js';
import {
  TrainingRepository,
  type FactorRow,
  type StoredModel,
  type TrainingState,
} from './training.repository.js';

/** The training method and its parameters: a change retrains even when the purchases did not change. */
export const TRAINING_METHOD = sha256Hex(
  JSON.stringify({ COPURCHASE_MODEL, COPURCHASE_PARAMS, HYBRID_PARAMS }),
).slice(0, 12);

/** What the co-purchase and hybrid models record as trained_from, for a state. */
export function trainedFrom(
  state: TrainingState,
  descriptionModel: string,
): { copurchase: string; hybrid: string } {
  const copurchase = `${TRAINING_METHOD}:${state.purchasesDigest}`;
  return { copurchase, hybrid: `${copurchase}:${descriptionModel}@${state.descriptionVersion}` };
}

/** Whether the stored models are missing or were trained from another state than the current one. */
export async function modelsAreStale(
  db: Database,
  descriptionModel: string,
): Promise<TrainingState | undefined> {
  const repository = new TrainingRepository(db);
  const state = await repository.state(descriptionModel);
  const want = trainedFrom(state, descriptionModel);
  const stored = await repository.trainedFrom([COPURCHASE_MODEL, hybridModel(descriptionModel)]);
  const fresh =
    stored.get(COPURCHASE_MODEL) === want.copurchase &&
    stored.get(hybridModel(descriptionModel)) === want.hybrid;
  return fresh ? undefined : state;
}

/** What a training stores: each model's row and its products' vectors. */
export type ModelsToStore = Parameters<TrainingRepository['store']>[0];

/**
 * The co-purchase model's and the hybrid's rows and vectors: the hybrid's products are those of either
 * part (a missing part is zero), with the description vectors of `descriptions`.
 */
export function modelsToStore(
  factors: CopurchaseFactors,
  descriptions: Map<string, Float32Array>,
  trained: { descriptionModel: string; state: TrainingState; asOf: Date; trainingMs: number },
): ModelsToStore {
  const { descriptionModel, state, asOf, trainingMs } = trained;
  const from = trainedFrom(state, descriptionModel);
  const dimensions = descriptions.values().next().value?.length ?? 0;
  const index = new Map(factors.productIds.map((id, i) => [id, i]));
  const copurchaseRows: FactorRow[] = factors.productIds.map((productId, i) => ({
    productId,
    item: copurchaseItemVector(factors, i),
    input: copurchaseInputVector(factors, i),
  }));
  const zeros = new Float32Array(factors.rank);
  const hybridRows: FactorRow[] = [...new Set([...factors.productIds, ...descriptions.keys()])]
    .sort()
    .map((productId) => {
      const i = index.get(productId);
      return {
        productId,
        item: hybridItemVector(descriptions.get(productId), dimensions, factors, i, HYBRID_PARAMS),
        input: i === undefined ? zeros : copurchaseInputVector(factors, i),
      };
    });
  const common = { customers: factors.users, products: factors.productIds.length, trainingMs };
  const copurchaseParams = { ...factors.params, as_of: asOf.toISOString() };
  return [
    {
      model: {
        model: COPURCHASE_MODEL,
        kind: 'copurchase',
        dimensions: factors.rank + 1,
        params: copurchaseParams,
        trainedFrom: from.copurchase,
        ...common,
      },
      rows: copurchaseRows,
    },
    {
      model: {
        model: hybridModel(descriptionModel),
        kind: 'hybrid',
        dimensions: dimensions + factors.rank + 1,
        params: {
          ...copurchaseParams,
          ...HYBRID_PARAMS,
          description_model: descriptionModel,
          description_dimensions: dimensions,
          description_version: state.descriptionVersion,
        },
        trainedFrom: from.hybrid,
        ...common,
      } satisfies StoredModel,
      rows: hybridRows,
    },
  ];
}

/** "Now" for the trend term: just after the last purchase in `records`. */
export function trainingAsOf(records: readonly PurchaseRecord[]): Date {
  let last = -Infinity;
  for (const record of records) last = Math.max(last, record.lastPurchasedAt.getTime());
  return new Date(last + 1);
}

/**
 * Trains the co-purchase model on every customer's purchases, builds the hybrid over `descriptionModel`, and
 * stores both (product_factors, one transaction). Does nothing when both were trained from the current state,
 * unless `force`.
 */
export async function trainModels(
  db: Database,
  descriptionModel: string,
  options: { force?: boolean; progress?: TrainingProgress } = {},
): Promise<TrainingJobResult> {
  const repository = new TrainingRepository(db);
  const hybridName = hybridModel(descriptionModel);
  const state = await repository.state(descriptionModel);
  const from = trainedFrom(state, descriptionModel);
  const stored = await repository.trainedFrom([COPURCHASE_MODEL, hybridName]);
  const models = [COPURCHASE_MODEL, hybridName];
  if (
    !options.force &&
    stored.get(COPURCHASE_MODEL) === from.copurchase &&
    stored.get(hybridName) === from.hybrid
  ) {
    return { trained: false, models, customers: 0, products: 0, training_ms: 0, storing_ms: 0 };
  }
  const records = await repository.purchases();
  if (records.length === 0)
    throw new Error('there are no purchases to learn from: run `npm run ingest` first');
  const asOf = trainingAsOf(records);
  const started = Date.now();
  const matrix = buildPurchaseMatrix(records, asOf, COPURCHASE_PARAMS.trendDays);
  const factors = trainCopurchase(matrix, COPURCHASE_PARAMS, options.progress);
  const trainingMs = Date.now() - started;

  const storing = Date.now();
  const descriptions = await repository.descriptionVectors(descriptionModel);
  await repository.store(modelsToStore(factors, descriptions, { descriptionModel, state, asOf, trainingMs }));
  return {
    trained: true,
    models,
    customers: factors.users,
    products: factors.productIds.length,
    training_ms: trainingMs,
    storing_ms: Date.now() - storing,
  };
}
