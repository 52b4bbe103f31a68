#!/usr/bin/env node
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { ConfigError, describeConfig, loadConfig } from '@retail/common';
import { createLogger } from '@retail/common/nest';
import { EmbedderModule } from './embedder.module.js';

/** The embedder worker process: consumes the `embeddings` queue until SIGTERM/SIGINT. */
async function bootstrap(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger('embedder', config);
  const app = await NestFactory.createApplicationContext(EmbedderModule.forRoot(config), { logger });
  app.enableShutdownHooks();
  logger.log(`started with ${JSON.stringify(describeConfig(config).embedding)}`);
}

bootstrap().catch((error: unknown) => {
  console.error(`embedder failed to start: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(error instanceof ConfigError ? 2 : 1);
});
