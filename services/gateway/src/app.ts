import 'reflect-metadata';
import { Logger, type LoggerService } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { AppConfig, ServiceMetrics } from '@retail/common';
import { METRICS, withCore } from '@retail/common/nest';
import { mountQueueDashboard } from './dashboard/queue-dashboard.js';
import { GatewayModule } from './gateway.module.js';
import { QueuesService } from './queues/queues.service.js';

/** Builds the gateway application (HTTP on Fastify, OpenAPI under /api/docs), not yet listening. */
export async function createGateway(
  config: AppConfig,
  logger: LoggerService | false,
): Promise<NestFastifyApplication> {
  const adapter = new FastifyAdapter({
    // Long path segments and query strings reach the validation (a clear 400), up to these limits.
    routerOptions: { maxParamLength: 16_384 },
    bodyLimit: 64 * 1024,
  });
  const app = await NestFactory.create<NestFastifyApplication>(withCore(GatewayModule, config), adapter, {
    logger,
  });
  app.enableShutdownHooks();
  const fastify = app.getHttpAdapter().getInstance();

  // HTTP latency of every answer, by route pattern (not by raw URL: ids would explode the series).
  const metrics = app.get<ServiceMetrics>(METRICS);
  fastify.addHook('onResponse', (request, reply, done) => {
    metrics.httpDuration.observe(
      {
        method: request.method,
        route: request.routeOptions.url ?? 'unmatched',
        status: String(reply.statusCode),
      },
      reply.elapsedTime / 1000,
    );
    done();
  });

  await mountQueueDashboard(fastify, app.get(QueuesService).queues, config, new Logger('QueueDashboard'));

  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Retail recommender API')
      .setDescription(
        'Users with purchase history, their purchases, and product recommendations from embeddings of ' +
          'product descriptions, with one-sentence explanations. JSON uses snake_case; errors are ' +
          '`{statusCode, error, message}`.',
      )
      .setVersion('1.0')
      .build(),
  );
  SwaggerModule.setup('api/docs', app, document, { jsonDocumentUrl: 'api/docs/openapi.json' });
  return app;
}
