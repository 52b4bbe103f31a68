import { Module } from '@nestjs/common';
import { EmbeddingProcessor } from './embedding.processor.js';
import { EmbeddingRepository } from './embedding.repository.js';
import { EmbeddingWorker } from './embedding.worker.js';
import { embeddingProvider } from './providers.js';

/** The embedder: the worker of the `embeddings` queue and what it needs. Its process runs withCore(it). */
@Module({ providers: [embeddingProvider, EmbeddingRepository, EmbeddingProcessor, EmbeddingWorker] })
export class EmbedderModule {
  static readonly core = { applicationName: 'embedder', poolSize: 6 };
}
