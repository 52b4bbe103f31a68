/** Every BullMQ queue of the system, by role. Operators see these names on the dashboard. */
export const QueueNames = {
  /** Batches of products to embed (ingestion, `npm run embed` -> embedder). */
  Embeddings: 'embeddings',
  /**
   * Recommendation events: the products shown to a user, to explain when there is budget for it
   * (recommendation -> explanation). Background work, oldest first, under the background policy.
   */
  Explanations: 'explanations',
  /**
   * Sentences a person is waiting for (the page asked for them or is polling them): gateway ->
   * explanation, written before any background event.
   */
  ExplanationsInteractive: 'explanations-interactive',
  /** Training of the models learned from purchases (recommendation service; `npm run train`). */
  ModelTraining: 'model-training',
  /**
   * Kept recommendation lists to compute again: a model's lists by slices of customers after its vectors
   * changed, and one customer's lists after their purchases changed (first). Any recommendation process takes
   * them.
   */
  RecommendationRefresh: 'recommendation-refresh',
} as const;

export type QueueName = (typeof QueueNames)[keyof typeof QueueNames];
