import type { JobsOptions } from 'bullmq';
import { sha256Hex } from '../util/hash.js';

/** A product the user bought, as context for an explanation. */
export interface PurchaseContext {
  product_id: string;
  description: string;
  /** Cosine similarity to the recommended product (the most relevant purchases come first). */
  similarity: number;
}

export interface ExplainedProduct {
  product_id: string;
  description: string;
  /** A handful of the user's purchases, the closest to this product first. */
  closest_purchases: PurchaseContext[];
}

/**
 * The recommendation event (the contract between the recommendation and explanation services): the
 * products shown to a user, with what an explanation needs. Durable in the `explanations` queue.
 */
export interface RecommendationEvent {
  model: string;
  user_id: string;
  products: ExplainedProduct[];
  created_at: string;
}

export const RECOMMENDATION_EVENT_NAME = 'recommendations-shown';

/** Same user, same model, same products, same purchases: the same event, queued once. */
export function recommendationEventId(
  model: string,
  userId: string,
  productIds: string[],
  purchasesHash: string,
): string {
  const content = [model, userId, purchasesHash, ...[...productIds].sort()].join('\n');
  return `rec-${sha256Hex(content).slice(0, 40)}`;
}

export function recommendationEventOptions(): JobsOptions {
  return {
    attempts: 5,
    backoff: { type: 'exponential', delay: 1_000 },
    removeOnComplete: { age: 24 * 3600, count: 50_000 },
    removeOnFail: false,
  };
}
