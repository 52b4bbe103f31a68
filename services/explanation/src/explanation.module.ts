import { Logger, Module, type DynamicModule } from '@nestjs/common';
import {
  ExplanationCacheRepository,
  createExplanationWriter,
  type AppConfig,
  type RedisClient,
} from '@retail/common';
import { APP_CONFIG, CoreModule, REDIS } from '@retail/common/nest';
import { ExplanationService } from './explanation.service.js';
import { ExplanationWorker } from './explanation.worker.js';
import { PurchaseRanker } from './purchase-ranker.js';
import { EXPLANATION_CACHE, EXPLANATION_WRITER } from './tokens.js';

@Module({})
export class ExplanationModule {
  static forRoot(config?: AppConfig): DynamicModule {
    return {
      module: ExplanationModule,
      imports: [CoreModule.forRoot({ applicationName: 'explanation', config, poolSize: 1 })],
      providers: [
        {
          provide: EXPLANATION_WRITER,
          inject: [APP_CONFIG],
          useFactory: (c: AppConfig) => {
            const logger = new Logger('ExplanationWriter');
            return createExplanationWriter(c.llm, { log: (message) => logger.warn(message) });
          },
        },
        {
          provide: EXPLANATION_CACHE,
          inject: [REDIS, APP_CONFIG],
          useFactory: (redis: RedisClient, c: AppConfig) => new ExplanationCacheRepository(redis, c),
        },
        PurchaseRanker,
        ExplanationService,
        ExplanationWorker,
      ],
    };
  }
}
