import 'reflect-metadata';
import { Logger, type LoggerService } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { SwaggerModule } from '@nestjs/swagger';
import type { AppConfig, ServiceMetrics } from '@retail/common';
import { METRICS, withCore } from '@retail/common/nest';
import { mountQueueDashboard } from './dashboard/queue-dashboard.js';
import { GatewayModule } from './gateway.module.js';
import { addRevalidation } from './http/revalidation.js';
import { createApiDocument } from './openapi/api-document.js';
import { QueuesService } from './queues/queues.service.js';

/** The response headers a browser script on another origin may read. */
const EXPOSED_HEADERS = [
  'ETag',
  'Link',
  'Retry-After',
  'RateLimit-Limit',
  'RateLimit-Remaining',
  'RateLimit-Reset',
  'RateLimit-Policy',
];

/** The gateway's Fastify adapter: its limits, and the proxies whose X-Forwarded-For it believes. */
export function gatewayAdapter(config: AppConfig): FastifyAdapter {
  return new FastifyAdapter({
    // Long path segments and query strings reach the validation (a clear 400), up to these limits.
    routerOptions: { maxParamLength: 16_384 },
    // A POST /api/purchases of MAX_PURCHASE_LINES lines (about 200 bytes each as JSON) must fit.
    bodyLimit: 1024 * 1024,
    // request.ip is the client a trusted proxy names (the page's server names each shopper).
    trustProxy: config.api.trustedProxies.length > 0 ? config.api.trustedProxies : false,
  });
}

/** Builds the gateway application (HTTP on Fastify, OpenAPI under /api/docs), not yet listening. */
export async function createGateway(
  config: AppConfig,
  logger: LoggerService | false,
): Promise<NestFastifyApplication> {
  const app = await NestFactory.create<NestFastifyApplication>(
    withCore(GatewayModule, config),
    gatewayAdapter(config),
    { logger },
  );
  app.enableShutdownHooks();
  const fastify = app.getHttpAdapter().getInstance();

  // Browsers on the origins of CORS_ORIGINS (none by default) may call the API; preflights are answered.
  if (config.api.corsOrigins.length > 0) {
    app.enableCors({
      origin: config.api.corsOrigins.includes('*') ? '*' : config.api.corsOrigins,
      methods: ['GET', 'HEAD', 'POST', 'PUT', 'DELETE'],
      allowedHeaders: ['Authorization', 'Content-Type', 'If-None-Match'],
      exposedHeaders: EXPOSED_HEADERS,
      maxAge: 600,
    });
  }

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
  addRevalidation(fastify);

  await mountQueueDashboard(fastify, app.get(QueuesService).queues, config, new Logger('QueueDashboard'));

  SwaggerModule.setup('api/docs', app, createApiDocument(app, config), {
    jsonDocumentUrl: 'api/docs/openapi.json',
  });
  return app;
}
