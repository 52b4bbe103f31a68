import type { JobsOptions } from 'bullmq';
import { z } from 'zod';
import { sha256Hex } from '../util/hash.js';

/**
 * A job of either explanation queue (the contract between its producers and the explanation service):
 * which of a user's recommended products to explain. The explanation service reads the descriptions and
 * the user's purchases itself, so a job is small and never carries stale text.
 *
 * - `explanations` (background): a recommendation event, published by the recommendation service for every
 *   answer. Worked through oldest first, under the background policy (a budget of model calls per minute;
 *   events older than a limit are dropped, their sentences written when someone asks).
 * - `explanations-interactive`: sentences a person is waiting for, queued by the gateway when the page asks
 *   for recommendations (`explanations=now`) or polls sentences still pending. Written first, with a
 *   deadline after which the grounded template sentence stands in.
 */
export const explanationJobSchema = z.object({
  user_id: z.string().regex(/^\d{1,10}$/, 'user_id must be a customer number'),
  /** The products to explain, best first. */
  product_ids: z.array(z.string().min(1).max(64)).min(1).max(100),
  /** The recommender model whose ranking showed the products (absent when a poll asked). */
  model: z.string().optional(),
  /** When the products were shown (background) or first asked for (interactive), ISO 8601. */
  created_at: z.iso.datetime(),
});

export type ExplanationJob = z.infer<typeof explanationJobSchema>;

/** A product of the explanation context: its id and description. */
export interface DescribedProduct {
  product_id: string;
  description: string;
}

export const RECOMMENDATION_EVENT_NAME = 'recommendations-shown';
export const EXPLANATION_REQUEST_NAME = 'explanations-wanted';

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

/** The same sentences asked for again while the first request is waiting or running: queued once. */
export function explanationRequestId(userId: string, productIds: string[]): string {
  return `now-${sha256Hex([userId, ...[...productIds].sort()].join('\n')).slice(0, 40)}`;
}

export function recommendationEventOptions(): JobsOptions {
  return {
    attempts: 5,
    backoff: { type: 'exponential', delay: 1_000 },
    removeOnComplete: { age: 24 * 3600, count: 50_000 },
    removeOnFail: false,
  };
}

/**
 * A person is waiting: one quick retry, and the job is forgotten once done (so that asking again later,
 * say after a model switch, queues it again). Failed requests stay an hour for operators.
 */
export function explanationRequestOptions(): JobsOptions {
  return {
    attempts: 2,
    backoff: { type: 'fixed', delay: 250 },
    removeOnComplete: true,
    removeOnFail: { age: 3600 },
  };
}
