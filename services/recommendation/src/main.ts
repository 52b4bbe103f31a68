#!/usr/bin/env node
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { Transport, type MicroserviceOptions } from '@nestjs/microservices';
import { servedModel } from '@retail/common';
import { CorkedJsonSocket, startService, withCore } from '@retail/common/nest';
import { RecommendationModule } from './recommendation.module.js';

/** The recommendation service: a TCP microservice the gateway calls (@nestjs/microservices). */
startService('recommendation', async (config, logger) => {
  const { host, port } = config.recommendation;
  const app = await NestFactory.createMicroservice<MicroserviceOptions>(
    withCore(RecommendationModule, config),
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
});
