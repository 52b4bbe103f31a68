import { Module, type DynamicModule } from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import type { AppConfig } from '@retail/common';
import { CoreModule } from '@retail/common/nest';
import { HealthMessagesController } from './health/health-messages.controller.js';
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

@Module({})
export class RecommendationModule {
  static forRoot(config?: AppConfig): DynamicModule {
    return {
      module: RecommendationModule,
      imports: [CoreModule.forRoot({ applicationName: 'recommendation', config, poolSize: 12 })],
      controllers: [UserMessagesController, RecommendationMessagesController, HealthMessagesController],
      providers: [
        UsersRepository,
        UsersService,
        RankingInputsRepository,
        RankingStore,
        ListsWriter,
        ModelTrainingService,
        RecommendationsService,
        RecommendationEventsPublisher,
        RecommendationRefresher,
        { provide: APP_INTERCEPTOR, useClass: RpcMetricsInterceptor },
      ],
    };
  }
}
