import OpenAI from 'openai';
import pLimit, { type LimitFunction } from 'p-limit';
import type { EmbeddingConfig } from '../config/config.js';
import { EmbeddingProviderError, type EmbeddingProvider } from './embedding-provider.js';
import { normaliseInPlace } from './vectors.js';

export interface OpenAiEmbeddingOptions {
  /** Retries inside one job attempt (429/5xx/timeouts, honouring Retry-After); the queue retries after. */
  maxRetries?: number;
  /** Where the client's own warnings go (never request headers, never the key). */
  log?: (message: string) => void;
}

/**
 * Embeddings from any OpenAI-compatible API (default: Cloud.ru Foundation Models,
 * Qwen/Qwen3-Embedding-0.6B), many texts per request. The key travels only as a bearer token.
 */
export class OpenAiEmbeddingProvider implements EmbeddingProvider {
  readonly model: string;
  readonly dimensions: number;
  private readonly client: OpenAI;
  /** At most EMBEDDING_CONCURRENCY requests in flight, however many batches are being prepared. */
  private readonly limit: LimitFunction;

  constructor(
    private readonly config: EmbeddingConfig,
    options: OpenAiEmbeddingOptions = {},
  ) {
    this.model = config.model;
    this.dimensions = config.dimensions;
    this.limit = pLimit(config.concurrency);
    const log = options.log ?? (() => undefined);
    this.client = new OpenAI({
      apiKey: config.apiKey,
      baseURL: config.baseUrl,
      timeout: config.timeoutMs,
      maxRetries: options.maxRetries ?? 3,
      logLevel: 'warn',
      logger: { error: log, warn: log, info: () => undefined, debug: () => undefined },
    });
  }

  async embed(texts: string[], signal?: AbortSignal): Promise<Float32Array[]> {
    if (texts.length === 0) return [];
    let response: OpenAI.CreateEmbeddingResponse;
    try {
      response = await this.limit(() =>
        this.client.embeddings.create(
          { model: this.model, input: texts, encoding_format: 'float' },
          { signal },
        ),
      );
    } catch (error) {
      throw this.describe(error);
    }
    return this.check(response, texts.length);
  }

  /** Every answer is checked: one vector per text, each index once, the configured size, finite, non-zero. */
  private check(response: OpenAI.CreateEmbeddingResponse, expected: number): Float32Array[] {
    const data = Array.isArray(response?.data) ? response.data : [];
    const where = `${this.config.baseUrl} (model ${this.model})`;
    if (data.length !== expected) {
      throw new EmbeddingProviderError(
        `${where} returned ${data.length} vectors for ${expected} texts`,
        true, // a truncated answer may be a passing fault: the queue retries the batch
      );
    }
    const vectors = new Array<Float32Array | undefined>(expected);
    data.forEach((item, position) => {
      const index = typeof item.index === 'number' ? item.index : position;
      if (index < 0 || index >= expected || vectors[index]) {
        throw new EmbeddingProviderError(
          `${where} returned a vector with a bad or repeated index ${index}`,
          true,
        );
      }
      const values = item.embedding as unknown;
      if (!Array.isArray(values) || values.length !== this.dimensions) {
        throw new EmbeddingProviderError(
          `${where} returned vectors of ${Array.isArray(values) ? values.length : 'no'} dimensions, expected ` +
            `${this.dimensions}: check EMBEDDING_MODEL and EMBEDDING_DIM`,
          false,
        );
      }
      const vector = Float32Array.from(values as number[]);
      try {
        normaliseInPlace(vector);
      } catch (error) {
        throw new EmbeddingProviderError(
          `${where} returned an unusable vector for text ${index}: ${(error as Error).message}`,
          false,
        );
      }
      vectors[index] = vector;
    });
    return vectors as Float32Array[];
  }

  /**
   * Turns the client's errors into messages that say what to fix, and whether retrying can help. The
   * key is masked even where a server echoes it back.
   */
  private describe(error: unknown): EmbeddingProviderError {
    const described = this.classify(error);
    const key = this.config.apiKey;
    if (key && described.message.includes(key)) {
      return new EmbeddingProviderError(
        described.message.split(key).join('***'),
        described.retryable,
        described.status,
      );
    }
    return described;
  }

  private classify(error: unknown): EmbeddingProviderError {
    const where = `embedding API ${this.config.baseUrl}`;
    if (error instanceof OpenAI.APIConnectionTimeoutError) {
      return new EmbeddingProviderError(`${where} did not answer within ${this.config.timeoutMs} ms`, true);
    }
    if (error instanceof OpenAI.APIConnectionError) {
      return new EmbeddingProviderError(`${where} cannot be reached: ${error.message}`, true);
    }
    if (error instanceof OpenAI.APIError) {
      const status = (error as { status?: number }).status;
      if (status === 401 || status === 403) {
        return new EmbeddingProviderError(
          `${where} refused the credentials (HTTP ${status}): check EMBEDDING_API_KEY`,
          false,
          status,
        );
      }
      if (status === 404) {
        return new EmbeddingProviderError(
          `${where} does not know model "${this.model}" or the path (HTTP 404): check EMBEDDING_MODEL and EMBEDDING_BASE_URL`,
          false,
          status,
        );
      }
      if (status === 429 || (status !== undefined && status >= 500) || status === 408 || status === 409) {
        return new EmbeddingProviderError(
          `${where} failed with HTTP ${status}: ${error.message}`,
          true,
          status,
        );
      }
      return new EmbeddingProviderError(
        `${where} rejected the request (HTTP ${status ?? '?'}): ${error.message}: check EMBEDDING_MODEL and EMBEDDING_BATCH_SIZE`,
        false,
        status,
      );
    }
    if (error instanceof Error && error.name === 'AbortError') {
      return new EmbeddingProviderError(`${where}: request aborted`, true);
    }
    return new EmbeddingProviderError(
      `${where} failed: ${error instanceof Error ? error.message : String(error)}`,
      true,
    );
  }
}
