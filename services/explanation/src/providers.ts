import { Logger, type FactoryProvider } from '@nestjs/common';
import { ExplanationCacheRepository, type AppConfig, type RedisClient } from '@retail/common';
import { APP_CONFIG, REDIS } from '@retail/common/nest';
import { EXPLANATION_CACHE, EXPLANATION_WRITER, MODEL_CALL_BUDGET } from './tokens.js';
import { createExplanationWriter } from './writers/create-explanation-writer.js';
import type { ExplanationWriter } from './writers/explanation-writer.js';
import { ModelCallBudget } from './writers/model-call-budget.js';

/** The writer of the configured chat model (or the template writer); its warnings go to the log. */
export const explanationWriter: FactoryProvider<ExplanationWriter> = {
  provide: EXPLANATION_WRITER,
  inject: [APP_CONFIG],
  useFactory: (config: AppConfig) => {
    const logger = new Logger('ExplanationWriter');
    return createExplanationWriter(config.llm, { log: (message) => logger.warn(message) });
  },
};

/** The model-call budget of this process, foreground and background lanes. */
export const modelCallBudget: FactoryProvider<ModelCallBudget> = {
  provide: MODEL_CALL_BUDGET,
  inject: [APP_CONFIG],
  useFactory: (config: AppConfig) => new ModelCallBudget(config.llm, config.explanations),
};

/** The sentences written so far, in Redis. */
export const explanationCache: FactoryProvider<ExplanationCacheRepository> = {
  provide: EXPLANATION_CACHE,
  inject: [REDIS, APP_CONFIG],
  useFactory: (redis: RedisClient, config: AppConfig) => new ExplanationCacheRepository(redis, config),
};
