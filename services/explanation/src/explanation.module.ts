import { Logger, Module, type DynamicModule } from '@nestjs/common';
import { ExplanationCacheRepository, type AppConfig, type RedisClient } from '@retail/common';
import { APP_CONFIG, CoreModule, REDIS } from '@retail/common/nest';
import { ExplanationContextRepository } from './context/explanation-context.repository.js';
import { PurchaseInfluenceRepository } from './context/purchase-influence.repository.js';
import { PurchaseRanker } from './context/purchase-ranker.js';
import { ExplanationService } from './explanation.service.js';
import { ExplanationWorker } from './explanation.worker.js';
import { EXPLANATION_CACHE, EXPLANATION_WRITER, MODEL_CALL_BUDGET } from './tokens.js';
import { createExplanationWriter } from './writers/create-explanation-writer.js';
import { ModelCallBudget } from './writers/model-call-budget.js';

@Module({})
export class ExplanationModule {
  static forRoot(config?: AppConfig): DynamicModule {
    return {
      module: ExplanationModule,
      imports: [CoreModule.forRoot({ applicationName: 'explanation', config, poolSize: 4 })],
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
          provide: MODEL_CALL_BUDGET,
          inject: [APP_CONFIG],
          useFactory: (c: AppConfig) => new ModelCallBudget(c.llm, c.explanations),
        },
        {
          provide: EXPLANATION_CACHE,
          inject: [REDIS, APP_CONFIG],
          useFactory: (redis: RedisClient, c: AppConfig) =>
            new ExplanationCacheRepository(redis, { queuePrefix: c.queuePrefix, ...c.explanations }),
        },
        PurchaseInfluenceRepository,
        ExplanationContextRepository,
        PurchaseRanker,
        ExplanationService,
        ExplanationWorker,
      ],
    };
  }
}
