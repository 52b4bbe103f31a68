#!/usr/bin/env node
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { ConfigError, describeConfig, loadConfig } from '@retail/common';
import { createLogger } from '@retail/common/nest';
import { ExplanationModule } from './explanation.module.js';

/** The explanation worker process: recommendation events -> sentences in the Redis cache, until SIGTERM. */
async function bootstrap(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger('explanation', config);
  const app = await NestFactory.createApplicationContext(ExplanationModule.forRoot(config), { logger });
  app.enableShutdownHooks();
  logger.log(`started with ${JSON.stringify(describeConfig(config).llm)}`);
}

bootstrap().catch((error: unknown) => {
  console.error(
    `explanation service failed to start: ${error instanceof Error ? error.message : String(error)}`,
  );
  process.exit(error instanceof ConfigError ? 2 : 1);
});
