/** A model that turns texts into vectors (README, "Embeddings"). */
export interface EmbeddingProvider {
  /** The name stored with every vector: vectors of different models never mix. */
  readonly model: string;
  readonly dimensions: number;
  /** One L2-normalised vector per text, in the order of `texts`. */
  embed(texts: string[], signal?: AbortSignal): Promise<Float32Array[]>;
}

/**
 * A failure of a provider. `retryable` failures (rate limits, server errors, timeouts, lost
 * connections) may succeed later; the others (credentials, a request the API refuses, an answer that
 * does not fit the configuration) will not, and say which setting to fix.
 */
export class EmbeddingProviderError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'EmbeddingProviderError';
  }
}
