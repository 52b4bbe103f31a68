import { Inject, Injectable } from '@nestjs/common';
import { MAX_TOP_N, type AppConfig, type RecommendationsResponse } from '@retail/common';
import { APP_CONFIG } from '@retail/common/nest';
import { badRequest, notFound } from '../errors.js';
import { RecommendationEventsPublisher } from './recommendation-events.publisher.js';
import { RecommendationsRepository, type StoredList } from './recommendations.repository.js';

/**
 * Recommendations for one user: the stored exact list when it is current, otherwise computed now (and
 * stored for the next request). Each answer publishes a recommendation event for the explanations.
 */
@Injectable()
export class RecommendationsService {
  private readonly model: string;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly repository: RecommendationsRepository,
    private readonly events: RecommendationEventsPublisher,
  ) {
    this.model = config.embedding.model;
  }

  async recommend(userId: number, topN: number): Promise<RecommendationsResponse> {
    if (!Number.isInteger(topN) || topN < 1 || topN > MAX_TOP_N) {
      throw badRequest(`top_n must be an integer from 1 to ${MAX_TOP_N}`);
    }
    let list = await this.repository.findList(userId, this.model, topN);
    if (!list) throw notFound(`user ${userId} has no purchase history`);
    if (!list.fresh) {
      await this.repository.computeLists([userId], this.model);
      list = (await this.repository.findList(userId, this.model, topN))!;
    }
    const recommendations = list.productIds.map((product_id, i) => ({
      product_id,
      description: list.descriptions[i]!,
      score: list.scores[i]!,
    }));
    if (recommendations.length > 0) this.events.publishSoon(userId, list.purchasesHash, recommendations);
    return {
      user_id: String(userId),
      model: this.model,
      recommendations,
      ...(recommendations.length === 0 ? { reason: this.emptyReason(list) } : {}),
    };
  }

  private emptyReason(list: StoredList): string {
    return list.purchasedWithVectors === 0
      ? `none of the products this user bought has a vector in model ${this.model} yet ` +
          '(run `npm run embed` or wait for the embedder)'
      : 'every product with a vector is already among what this user bought';
  }
}
