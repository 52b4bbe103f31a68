#!/usr/bin/env node
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { Transport, type MicroserviceOptions } from '@nestjs/microservices';
import { ConfigError, loadConfig, servedModel } from '@retail/common';
import { CorkedJsonSocket, createLogger } from '@retail/common/nest';
import { RecommendationModule } from './recommendation.module.js';

/** The recommendation service: a TCP microservice the gateway calls (@nestjs/microservices). */
async function bootstrap(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger('recommendation', config);
  const { host, port } = config.recommendation;
  const app = await NestFactory.createMicroservice<MicroserviceOptions>(
    RecommendationModule.forRoot(config),
    {
      transport: Transport.TCP,
      options: { host, port, socketClass: CorkedJsonSocket },
      logger,
    },
  );
  app.enableShutdownHooks();
  await app.listen();
  const served = servedModel(config);
  logger.log(`listening on tcp://${host}:${port}, model ${served.name} (${served.kind})`);
}

bootstrap().catch((error: unknown) => {
  console.error(
    `recommendation service failed to start: ${error instanceof Error ? error.message : String(error)}`,
  );
  process.exit(error instanceof ConfigError ? 2 : 1);
});
