import { Logger, type FactoryProvider } from '@nestjs/common';
import type { AppConfig, EmbeddingProvider } from '@retail/common';
import { createEmbeddingProvider } from '@retail/common/embedding-providers';
import { APP_CONFIG } from '@retail/common/nest';
import { EMBEDDING_PROVIDER } from './tokens.js';

/** The client of the configured embedding model; its HTTP retries are logged as warnings. */
export const embeddingProvider: FactoryProvider<EmbeddingProvider> = {
  provide: EMBEDDING_PROVIDER,
  inject: [APP_CONFIG],
  useFactory: (config: AppConfig) => {
    const logger = new Logger('EmbeddingProvider');
    return createEmbeddingProvider(config.embedding, {
      maxRetries: config.embedding.httpRetries,
      log: (message) => logger.warn(message),
    });
  },
};
