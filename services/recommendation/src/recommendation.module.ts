import { Module } from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { HealthMessagesController } from './health/health-messages.controller.js';
import { ProductMessagesController } from './products/product-messages.controller.js';
import { ProductsRepository } from './products/products.repository.js';
import { RecommendationEventsPublisher } from './recommendations/recommendation-events.publisher.js';
import { RecommendationRefresher } from './recommendations/recommendation-refresher.js';
import { RecommendationMessagesController } from './recommendations/recommendation-messages.controller.js';
import { RecommendationsService } from './recommendations/recommendations.service.js';
import { ListsWriter } from './recommendations/lists-writer.js';
import { RankingInputsRepository } from './ranking/ranking-inputs.repository.js';
import { RankingStore } from './ranking/ranking-store.js';
import { ModelTrainingService } from './training/model-training.service.js';
import { UserMessagesController } from './users/user-messages.controller.js';
import { UsersRepository } from './users/users.repository.js';
import { UsersService } from './users/users.service.js';
import { RpcMetricsInterceptor } from './rpc-metrics.interceptor.js';

/**
 * The recommendation service: the users, the in-memory ranking and the lists kept for every customer, the
 * training of the models learned from purchases, answered over TCP. Its process runs withCore(it).
 */
@Module({
  controllers: [
    UserMessagesController,
    RecommendationMessagesController,
    HealthMessagesController,
    ProductMessagesController,
  ],
  providers: [
    UsersRepository,
    UsersService,
    ProductsRepository,
    RankingInputsRepository,
    RankingStore,
    ListsWriter,
    ModelTrainingService,
    RecommendationsService,
    RecommendationEventsPublisher,
    RecommendationRefresher,
    { provide: APP_INTERCEPTOR, useClass: RpcMetricsInterceptor },
  ],
})
export class RecommendationModule {
  static readonly core = { applicationName: 'recommendation', poolSize: 12 };
}
