import { Injectable, type OnModuleInit } from '@nestjs/common';
import { UnrecoverableError, type Job } from 'bullmq';
import {
  EmbeddingProviderError,
  QueueNames,
  type EmbeddingJobData,
  type EmbeddingJobResult,
} from '@retail/common';
import { QueueConsumer } from '@retail/common/nest';
import { EmbeddingProcessor } from './embedding.processor.js';

/**
 * The BullMQ worker of the `embeddings` queue: EMBEDDING_CONCURRENCY batches at a time. Failures that
 * retrying cannot fix (credentials, a model that answers with the wrong size) fail the job at once; the
 * others are retried with exponential backoff, and after the last attempt the job stays in the failed set
 * with its reason until an operator retries it.
 */
@Injectable()
export class EmbeddingWorker extends QueueConsumer implements OnModuleInit {
  constructor(private readonly processor: EmbeddingProcessor) {
    super();
  }

  onModuleInit(): void {
    this.consume<EmbeddingJobData, EmbeddingJobResult>({
      queue: QueueNames.Embeddings,
      // Twice the HTTP concurrency: while some batches wait for the API (at most EMBEDDING_CONCURRENCY
      // requests in flight, enforced by the provider), others are read from or written to Postgres.
      concurrency: this.config.embedding.concurrency * 2,
      process: (job, signal) => this.run(job, signal),
      describe: (job, result) => `job ${job.id}: ${result.embedded} embedded, ${result.skipped} skipped`,
    });
    this.logger.log(
      `consuming "${QueueNames.Embeddings}" with model ${this.config.embedding.model} ` +
        `(${this.config.embedding.provider}), ${this.config.embedding.concurrency} requests in flight`,
    );
  }

  private async run(
    job: Job<EmbeddingJobData, EmbeddingJobResult>,
    signal?: AbortSignal,
  ): Promise<EmbeddingJobResult> {
    try {
      return await this.processor.process(job.data, signal);
    } catch (error) {
      if (error instanceof EmbeddingProviderError && !error.retryable)
        throw new UnrecoverableError(error.message);
      throw error;
    }
  }
}
