import type { JobsOptions } from 'bullmq';
import { sha256Hex } from '../util/hash.js';

/** A product in a recommendation event. */
export interface EventProduct {
  product_id: string;
  description: string;
}

/**
 * The recommendation event (the contract between the recommendation and explanation services): the
 * products shown to a user, and what the user bought, for the explanations. Durable in the
 * `explanations` queue.
 */
export interface RecommendationEvent {
  model: string;
  user_id: string;
  /** The products shown, best first. */
  products: EventProduct[];
  /** The merchandise the user bought, most often bought first (at most MAX_EVENT_PURCHASES). */
  purchases: EventProduct[];
  created_at: string;
}

/** Purchases carried by one event: the user's 100 most bought, plenty to find the few closest to a product. */
export const MAX_EVENT_PURCHASES = 100;

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
