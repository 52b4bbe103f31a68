/** Every BullMQ queue of the system, by role. Operators see these names on the dashboard. */
export const QueueNames = {
  /** Batches of products to embed (ingestion, `npm run embed` -> embedder). */
  Embeddings: 'embeddings',
  /** Recommendation events: products shown to a user, to explain (recommendation -> explanation). */
  Explanations: 'explanations',
  /** Training of the models learned from purchases (recommendation service; `npm run train`). */
  ModelTraining: 'model-training',
} as const;

export type QueueName = (typeof QueueNames)[keyof typeof QueueNames];
