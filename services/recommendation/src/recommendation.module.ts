import { Module } from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { HealthMessagesController } from './health/health-messages.controller.js';
import { ProductMessagesController } from './products/product-messages.controller.js';
import { EmbeddingRequests } from './products/embedding-requests.js';
import { ProductsRepository } from './products/products.repository.js';
import { ProductsService } from './products/products.service.js';
import { PurchaseMessagesController } from './purchases/purchase-messages.controller.js';
import { PurchasesRepository } from './purchases/purchases.repository.js';
import { PurchasesService } from './purchases/purchases.service.js';
import { KeptListsService } from './ranking/kept-lists.service.js';
import { RankingRepository } from './ranking/ranking.repository.js';
import { RecommendationEventsPublisher } from './recommendations/recommendation-events.publisher.js';
import { RecommendationMessagesController } from './recommendations/recommendation-messages.controller.js';
import { RecommendationsService } from './recommendations/recommendations.service.js';
import { RefreshPlanner } from './refresh/refresh-planner.js';
import { RefreshWorker } from './refresh/refresh.worker.js';
import { ModelTrainingService } from './training/model-training.service.js';
import { UserMessagesController } from './users/user-messages.controller.js';
import { UsersRepository } from './users/users.repository.js';
import { UsersService } from './users/users.service.js';
import { RpcMetricsInterceptor } from './rpc-metrics.interceptor.js';

/**
 * The recommendation service: the users, each customer's list kept in Postgres and served by key (ranked by
 * pgvector queries), the refresh of those lists as shared BullMQ jobs, and the training of the models learned
 * from purchases, answered over TCP. Its process runs withCore(it).
 */
@Module({
  controllers: [
    UserMessagesController,
    RecommendationMessagesController,
    HealthMessagesController,
    ProductMessagesController,
    PurchaseMessagesController,
  ],
  providers: [
    UsersRepository,
    UsersService,
    ProductsRepository,
    ProductsService,
    EmbeddingRequests,
    RankingRepository,
    KeptListsService,
    PurchasesRepository,
    PurchasesService,
    ModelTrainingService,
    RecommendationsService,
    RecommendationEventsPublisher,
    RefreshPlanner,
    RefreshWorker,
    { provide: APP_INTERCEPTOR, useClass: RpcMetricsInterceptor },
  ],
})
export class RecommendationModule {
  static readonly core = { applicationName: 'recommendation', poolSize: 12 };
}
