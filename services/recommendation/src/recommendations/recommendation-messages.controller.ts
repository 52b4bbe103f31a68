import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { RecommendationPatterns, type RankedList, type RecommendationsRequest } from '@retail/contracts';
import { RecommendationsService } from './recommendations.service.js';

/** The users.recommendations message pattern: a user's ranked list, for the gateway. */
@Controller()
export class RecommendationMessagesController {
  constructor(private readonly recommendations: RecommendationsService) {}

  @MessagePattern(RecommendationPatterns.Recommendations)
  recommend(@Payload() request: RecommendationsRequest): Promise<RankedList> {
    return this.recommendations.recommend(request.userId, request.topN);
  }
}
