import { Logger, Module, type DynamicModule } from '@nestjs/common';
import { type AppConfig } from '@retail/common';
import { createEmbeddingProvider } from '@retail/common/embedding-providers';
import { APP_CONFIG, CoreModule } from '@retail/common/nest';
import { EmbeddingProcessor } from './embedding.processor.js';
import { EmbeddingRepository } from './embedding.repository.js';
import { EmbeddingWorker } from './embedding.worker.js';
import { EMBEDDING_PROVIDER } from './tokens.js';

@Module({})
export class EmbedderModule {
  static forRoot(config?: AppConfig): DynamicModule {
    return {
      module: EmbedderModule,
      imports: [CoreModule.forRoot({ applicationName: 'embedder', config, poolSize: 6 })],
      providers: [
        {
          provide: EMBEDDING_PROVIDER,
          inject: [APP_CONFIG],
          useFactory: (c: AppConfig) => {
            const logger = new Logger('EmbeddingProvider');
            return createEmbeddingProvider(c.embedding, {
              maxRetries: c.embedding.httpRetries,
              log: (message) => logger.warn(message),
            });
          },
        },
        EmbeddingRepository,
        EmbeddingProcessor,
        EmbeddingWorker,
      ],
    };
  }
}
