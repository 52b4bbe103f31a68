import { Inject, Injectable } from '@nestjs/common';
import {
  EmbeddingProviderError,
  sha256Hex,
  type EmbeddingJobData,
  type EmbeddingJobResult,
  type EmbeddingProvider,
  type ServiceMetrics,
} from '@retail/common';
import { METRICS } from '@retail/common/nest';
import { EmbeddingRepository } from './embedding.repository.js';
import { EMBEDDING_PROVIDER } from './tokens.js';

/**
 * One embedding batch: embeds the products whose current text has no vector in the model yet (a
 * product is embedded again only when its text or the model changed), checks the answer, stores it.
 */
@Injectable()
export class EmbeddingProcessor {
  constructor(
    private readonly repository: EmbeddingRepository,
    @Inject(EMBEDDING_PROVIDER) private readonly provider: EmbeddingProvider,
    @Inject(METRICS) private readonly metrics: ServiceMetrics,
  ) {}

  async process(data: EmbeddingJobData, signal?: AbortSignal): Promise<EmbeddingJobResult> {
    if (data.model !== this.provider.model) {
      throw new EmbeddingProviderError(
        `this job is for model "${data.model}" but the embedder runs "${this.provider.model}": ` +
          'start an embedder with the matching EMBEDDING_PROVIDER / EMBEDDING_MODEL, or queue the work again',
        false,
      );
    }
    const texts = await this.repository.loadTexts(
      data.model,
      data.products.map((p) => p.productId),
    );
    const todo = texts
      .filter((t) => t.description !== '')
      .map((t) => ({ ...t, textHash: sha256Hex(t.description) }))
      .filter((t) => t.textHash !== t.storedHash);
    if (todo.length > 0) {
      const vectors = await this.metrics.timeModelCall('embedding', this.provider.model, () =>
        this.provider.embed(
          todo.map((t) => t.description),
          signal,
        ),
      );
      await this.repository.store(
        data.model,
        todo.map((t, i) => ({ productId: t.productId, textHash: t.textHash, vector: vectors[i]! })),
      );
    }
    return { embedded: todo.length, skipped: data.products.length - todo.length };
  }
}
