import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import {
  RecommendationPatterns,
  type RecommendationsRequest,
  type RecommendationsResponse,
} from '@retail/common';
import { RecommendationsService } from './recommendations.service.js';

@Controller()
export class RecommendationsController {
  constructor(private readonly recommendations: RecommendationsService) {}

  @MessagePattern(RecommendationPatterns.Recommendations)
  recommend(@Payload() request: RecommendationsRequest): Promise<RecommendationsResponse> {
    return this.recommendations.recommend(request.userId, request.topN);
  }
}
