import { Logger, type FactoryProvider } from '@nestjs/common';
import { ExplanationCacheRepository, type AppConfig, type RedisClient } from '@retail/common';
import { APP_CONFIG, REDIS } from '@retail/common/nest';
import { EXPLANATION_CACHE, EXPLANATION_WRITER, MODEL_CALL_BUDGET } from './tokens.js';
import { createExplanationWriter } from './writers/create-explanation-writer.js';
import type { ExplanationWriter } from './writers/explanation-writer.js';
import { ModelCallBudget, sharedBudgetSettings } from './writers/model-call-budget.js';
import { ModelCallBudgetRepository } from './writers/model-call-budget.repository.js';

/** The writer of the configured chat model (or the template writer); its warnings go to the log. */
export const explanationWriter: FactoryProvider<ExplanationWriter> = {
  provide: EXPLANATION_WRITER,
  inject: [APP_CONFIG],
  useFactory: (config: AppConfig) => {
    const logger = new Logger('ExplanationWriter');
    return createExplanationWriter(config.llm, { log: (message) => logger.warn(message) });
  },
};

/** The model-call budget, both lanes: counted in Redis for every process of the deployment. */
export const modelCallBudget: FactoryProvider<ModelCallBudget> = {
  provide: MODEL_CALL_BUDGET,
  inject: [REDIS, APP_CONFIG],
  useFactory: (redis: RedisClient, config: AppConfig) =>
    new ModelCallBudget(config.llm, new ModelCallBudgetRepository(redis, sharedBudgetSettings(config)), {
      logger: new Logger('ModelCallBudget'),
    }),
};

/** The sentences written so far, in Redis. */
export const explanationCache: FactoryProvider<ExplanationCacheRepository> = {
  provide: EXPLANATION_CACHE,
  inject: [REDIS, APP_CONFIG],
  useFactory: (redis: RedisClient, config: AppConfig) => new ExplanationCacheRepository(redis, config),
};
