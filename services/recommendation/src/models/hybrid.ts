import type { CopurchaseFactors } from './copurchase.js';

/**
 * The hybrid of the description and co-purchase models: score(i) = w * cosine(description taste, i)
 * + co-purchase score(i) + trendWeight * trend_i. A user's vector is [normalised mean of the description
 * vectors of what they bought | sum of the co-purchase input vectors | 1]; a product's vector is
 * [w * description vector | co-purchase output vector | trendWeight * trend]. The weights are chosen by
 * `npm run eval` on a validation split of the training period (README, "Recommendation quality").
 */
export interface HybridParams {
  descriptionWeight: number;
  trendWeight: number;
}

export const HYBRID_PARAMS: HybridParams = { descriptionWeight: 0.5, trendWeight: 0.3 };

/** A product's hybrid vector; a missing part (no description vector, not in the co-purchase model) is zero. */
export function hybridItemVector(
  description: Float32Array | undefined,
  descriptionDimensions: number,
  factors: CopurchaseFactors,
  index: number | undefined,
  params: HybridParams,
): Float32Array {
  const { rank } = factors;
  const v = new Float32Array(descriptionDimensions + rank + 1);
  if (description)
    for (let c = 0; c < descriptionDimensions; c++) v[c] = params.descriptionWeight * description[c]!;
  if (index !== undefined) {
    for (let c = 0; c < rank; c++) v[descriptionDimensions + c] = factors.output[index * rank + c]!;
    v[descriptionDimensions + rank] = params.trendWeight * factors.trend[index]!;
  }
  return v;
}
