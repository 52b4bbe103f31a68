import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { LoggerService } from '@nestjs/common';
import type { AppConfig } from '@retail/common';
import { GatewayModule } from './gateway.module.js';

/** Builds the gateway application (HTTP on Fastify, OpenAPI under /api/docs), not yet listening. */
export async function createGateway(
  config: AppConfig,
  logger: LoggerService | false,
): Promise<NestFastifyApplication> {
  const adapter = new FastifyAdapter({
    // Long path segments and query strings reach the validation (a clear 400), up to these limits.
    routerOptions: { maxParamLength: 1_000 },
    bodyLimit: 64 * 1024,
  });
  const app = await NestFactory.create<NestFastifyApplication>(GatewayModule.forRoot(config), adapter, {
    logger,
  });
  app.enableShutdownHooks();
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
