import { Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_PIPE } from '@nestjs/core';
import { ClientsModule, Transport } from '@nestjs/microservices';
import { StandardSchemaValidationPipe, BadRequestException } from '@nestjs/common';
import type { AppConfig } from '@retail/common';
import { APP_CONFIG, CorkedJsonSocket } from '@retail/common/nest';
import { AccessGuard } from './access/access.guard.js';
import { RateLimits } from './access/rate-limits.js';
import { ExplanationLookupService } from './explanations/explanation-lookup.service.js';
import { HealthController } from './health/health.controller.js';
import { JsonErrorsFilter } from './http/json-errors.filter.js';
import { MetricsController } from './metrics/metrics.controller.js';
import { QueuesService } from './queues/queues.service.js';
import {
  RECOMMENDATION_SERVICE,
  RecommendationClient,
} from './recommendation-client/recommendation.client.js';
import { UserRecommendationsService } from './users/user-recommendations.service.js';
import { ProductsController } from './products/products.controller.js';
import { PurchasesController } from './purchases/purchases.controller.js';
import { UsersController } from './users/users.controller.js';

/**
 * The gateway: the HTTP API (users, recommendations, explanations, health, metrics, the OpenAPI document)
 * behind its access guard (API keys, rate limits), the queue dashboard, and the client of the
 * recommendation service. Its process runs withCore(it).
 */
@Module({
  imports: [
    ClientsModule.registerAsync([
      {
        name: RECOMMENDATION_SERVICE,
        inject: [APP_CONFIG],
        useFactory: (c: AppConfig) => ({
          transport: Transport.TCP,
          options: {
            host: c.recommendation.host,
            port: c.recommendation.port,
            socketClass: CorkedJsonSocket,
          },
        }),
      },
    ]),
  ],
  controllers: [
    UsersController,
    PurchasesController,
    ProductsController,
    HealthController,
    MetricsController,
  ],
  providers: [
    RecommendationClient,
    ExplanationLookupService,
    UserRecommendationsService,
    QueuesService,
    RateLimits,
    { provide: APP_GUARD, useClass: AccessGuard },
    { provide: APP_FILTER, useClass: JsonErrorsFilter },
    {
      provide: APP_PIPE,
      useValue: new StandardSchemaValidationPipe({
        // Each problem says where it is (`lines.3.quantity: ...`) unless its message names the field already.
        exceptionFactory: (issues) =>
          new BadRequestException(
            issues
              .map((issue) => {
                const path = (issue.path ?? []).map((part) =>
                  typeof part === 'object' ? String(part.key) : String(part),
                );
                const field = path.at(-1);
                return path.length === 0 || (field !== undefined && issue.message.includes(field))
                  ? issue.message
                  : `${path.join('.')}: ${issue.message}`;
              })
              .join('; '),
          ),
      }),
    },
  ],
})
export class GatewayModule {
  static readonly core = { applicationName: 'gateway', poolSize: 2 };
}
