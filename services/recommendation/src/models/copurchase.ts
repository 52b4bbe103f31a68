import { LinalgWorkspace } from './kernels.js';
import { inverseDiagonal, seededNormal, topEigenvectors, transposeRows, type Dense } from './linalg.js';

/** One (customer, merchandise product) pair bought, with the last time it was bought. */
export interface PurchaseRecord {
  customerId: number;
  productId: string;
  lastPurchasedAt: Date;
}

/** The binary user-item matrix the co-purchase model learns from. */
export interface PurchaseMatrix {
  /** The products (columns), sorted by id. */
  productIds: string[];
  /** The customers (rows), sorted by id. */
  customerIds: number[];
  /** Each customer's products, as column indices. */
  userItems: Int32Array[];
  /** Per product: distinct customers who bought it in the `trendDays` before `asOf`. */
  recentBuyers: Float64Array;
  asOf: Date;
}

/**
 * The hyperparameters. The served values are COPURCHASE_PARAMS; `npm run eval` chooses lambda and the trend
 * weight on a validation split of the training period (see README, "Recommendation quality").
 */
export interface CopurchaseParams {
  /** L2 regularisation of EASE (Steck 2019). */
  lambda: number;
  /** Dimensions of the product and user vectors (the rank of the factorisation). */
  rank: number;
  /** Extra columns of the randomised eigensolver, and its power iterations. */
  oversample: number;
  powerIterations: number;
  /** The trend term: recent buyers over this many days, weighted by trendWeight in the score. */
  trendDays: number;
  trendWeight: number;
  seed: number;
}

export const COPURCHASE_PARAMS: CopurchaseParams = {
  lambda: 250,
  rank: 384,
  oversample: 16,
  powerIterations: 1,
  trendDays: 14,
  trendWeight: 0.05,
  seed: 20111001,
};

/**
 * A trained co-purchase model. Scoring product i for a user who bought the set S is
 *   score(i) = (sum_{j in S} input_j) . output_i + trendWeight * trend_i,
 * so a user's vector is the sum of the input vectors of what they bought (with a constant 1 appended for
 * the trend term), a product's vector is [output_i, trendWeight * trend_i], and each purchase j contributes
 * exactly input_j . output_i to the score of i (what explains a pick).
 */
export interface CopurchaseFactors {
  productIds: string[];
  rank: number;
  /** n x rank: what buying product j adds to a user's vector. */
  input: Float64Array;
  /** n x rank: the product's vector scored against user vectors. */
  output: Float64Array;
  /** n: recent buyers, scaled to [0, 1]. */
  trend: Float64Array;
  trendWeight: number;
  params: CopurchaseParams;
  users: number;
}

export type TrainingProgress = (phase: string, done: number, total: number) => void;

const DAY_MS = 86_400_000;

/**
 * The user-item matrix of `records` (merchandise only), with each product's recent buyers: the customers
 * whose last purchase of it falls in the `trendDays` before `asOf`.
 */
export function buildPurchaseMatrix(
  records: readonly PurchaseRecord[],
  asOf: Date,
  trendDays: number,
): PurchaseMatrix {
  const productIds = [...new Set(records.map((r) => r.productId))].sort();
  const column = new Map(productIds.map((id, i) => [id, i]));
  const byCustomer = new Map<number, number[]>();
  const recentBuyers = new Float64Array(productIds.length);
  const since = asOf.getTime() - trendDays * DAY_MS;
  for (const record of records) {
    const index = column.get(record.productId)!;
    let items = byCustomer.get(record.customerId);
    if (!items) byCustomer.set(record.customerId, (items = []));
    items.push(index);
    const at = record.lastPurchasedAt.getTime();
    if (at >= since && at < asOf.getTime()) recentBuyers[index]! += 1;
  }
  const customerIds = [...byCustomer.keys()].sort((a, b) => a - b);
  const userItems = customerIds.map((id) => Int32Array.from(new Set(byCustomer.get(id))).sort());
  return { productIds, customerIds, userItems, recentBuyers, asOf };
}

/** The phases of a training, in order, as reported to a TrainingProgress (`subspace` once per iteration). */
export const TRAINING_PHASES = {
  counts: 'co-purchase counts (XᵀX)',
  cholesky: 'Cholesky factor',
  inverse: 'inverse Cholesky factor',
  subspace: 'subspace iteration',
  factors: 'factors (Rayleigh-Ritz)',
  input: 'input vectors',
} as const;

/**
 * Trains the co-purchase model: EASE (Steck 2019, "Embarrassingly Shallow Autoencoders") gives the
 * item-item weights B = I - P diag(1/diag P), P = (XᵀX + lambda I)⁻¹, so that a user's scores are x B; then
 * a rank-`rank` factorisation that keeps what matters for users (reduced-rank regression): V = the top
 * eigenvectors of (XB)ᵀ(XB), found by randomised subspace iteration, and x B ≈ (x B V) Vᵀ. Products get
 * output vectors V and input vectors B V. Deterministic for given data and parameters, whatever the number
 * of `threads` the dense algebra runs on (kernels.ts; default: the machine's cores).
 */
export function trainCopurchase(
  matrix: PurchaseMatrix,
  params: CopurchaseParams = COPURCHASE_PARAMS,
  progress: TrainingProgress = () => {},
  threads?: number,
): CopurchaseFactors {
  const n = matrix.productIds.length;
  if (n === 0) throw new Error('no purchases to learn from');
  const rank = Math.min(params.rank, n);
  const width = Math.min(rank + params.oversample, n);
  const steps = 6 + params.powerIterations;
  let step = 0;
  const advance = (phase: string) => progress(phase, ++step, steps);

  const ws = new LinalgWorkspace(threads);
  try {
    const x = ws.sparse(matrix.userItems, n);
    const xt = ws.sparse(transposeRows(matrix.userItems, n), matrix.userItems.length);

    // P = (XᵀX + lambda I)⁻¹ = Mᵀ M with M the inverse Cholesky factor; B = I - P D⁻¹ with D = diag(P) (its
    // diagonal is zero), applied to blocks of columns without forming P or B.
    const m = ws.matrix(n, n);
    ws.gramLower(x, xt, m);
    for (let i = 0; i < n; i++) m.data[i * n + i]! += params.lambda;
    advance(TRAINING_PHASES.counts);
    ws.cholesky(m);
    advance(TRAINING_PHASES.cholesky);
    ws.invertLowerInPlace(m);
    const d = inverseDiagonal(m.data, n);
    advance(TRAINING_PHASES.inverse);

    // Scratch for the products with `width` columns (applyB and applyBt use t1 and t2).
    const t1 = ws.matrix(n, width);
    const t2 = ws.matrix(n, width);
    const t3 = ws.matrix(n, width);
    const users = ws.matrix(matrix.userItems.length, width);
    /** out = B Y = Y - P D⁻¹ Y (out may be Y) */
    const applyB = (y: Dense, out: Dense): void => {
      scaleRows(y, d, t1);
      ws.lowerMultiply(m, t1, t2);
      ws.lowerTransposedMultiply(m, t2, t1);
      subtract(y, t1, out);
    };
    /** out = Bᵀ Y = Y - D⁻¹ P Y (out may be Y) */
    const applyBt = (y: Dense, out: Dense): void => {
      ws.lowerMultiply(m, y, t2);
      ws.lowerTransposedMultiply(m, t2, t1);
      scaleRows(t1, d, t1);
      subtract(y, t1, out);
    };
    /** Q = (XB)ᵀ(XB) Q, applied as Bᵀ(Xᵀ(X(B Q))) without forming it. */
    const applyM = (q: Dense): void => {
      applyB(q, t3);
      ws.sparseMultiply(x, t3, users);
      ws.sparseMultiply(xt, users, t3);
      applyBt(t3, q);
    };

    const normal = seededNormal(params.seed);
    const q = ws.matrix(n, width);
    for (let i = 0; i < q.data.length; i++) q.data[i] = normal();
    for (let it = 0; it <= params.powerIterations; it++) {
      applyM(q);
      ws.orthonormaliseColumns(q);
      advance(TRAINING_PHASES.subspace);
    }
    // Rayleigh-Ritz: the best rank-`rank` subspace of span(Q), W the top eigenvectors of (XBQ)ᵀ(XBQ); the
    // output vectors are Q W, the input vectors B (Q W) = (B Q) W.
    const bq = t3;
    applyB(q, bq);
    ws.sparseMultiply(x, bq, users);
    const gram = ws.matrix(width, width);
    ws.crossProduct(users, gram);
    const { vectors } = topEigenvectors(gram, rank);
    const w = ws.matrix(width, rank);
    w.data.set(vectors.data);
    const output = ws.matrix(n, rank);
    ws.multiply(q, w, output);
    advance(TRAINING_PHASES.factors);
    const input = ws.matrix(n, rank);
    ws.multiply(bq, w, input);
    advance(TRAINING_PHASES.input);

    let top = 0;
    for (const value of matrix.recentBuyers) top = Math.max(top, value);
    const trend = matrix.recentBuyers.map((value) => (top > 0 ? value / top : 0));
    return {
      productIds: matrix.productIds,
      rank,
      // copies out of the workspace's shared memory
      input: input.data.slice(),
      output: output.data.slice(),
      trend,
      trendWeight: params.trendWeight,
      params: { ...params, rank },
      users: matrix.customerIds.length,
    };
  } finally {
    ws.close();
  }
}

/** out = diag(f)⁻¹ Y, row r of Y divided by f[r] (out may be Y). */
function scaleRows(y: Dense, f: Float64Array, out: Dense): void {
  const { rows, cols } = y;
  for (let r = 0; r < rows; r++) {
    const s = 1 / f[r]!;
    for (let c = r * cols; c < (r + 1) * cols; c++) out.data[c] = s * y.data[c]!;
  }
}

/** out = Y - Z (out may be Y). */
function subtract(y: Dense, z: Dense, out: Dense): void {
  for (let i = 0; i < y.data.length; i++) out.data[i] = y.data[i]! - z.data[i]!;
}

/** The stored product vector of the co-purchase model: [output_i, trendWeight * trend_i]. */
export function copurchaseItemVector(
  factors: CopurchaseFactors,
  index: number,
  trendWeight = factors.trendWeight,
): Float32Array {
  const { rank } = factors;
  const v = new Float32Array(rank + 1);
  for (let c = 0; c < rank; c++) v[c] = factors.output[index * rank + c]!;
  v[rank] = trendWeight * factors.trend[index]!;
  return v;
}

/** The stored input vector of product `index`: what buying it adds to a user's vector. */
export function copurchaseInputVector(factors: CopurchaseFactors, index: number): Float32Array {
  const { rank } = factors;
  return Float32Array.from(factors.input.subarray(index * rank, (index + 1) * rank));
}
