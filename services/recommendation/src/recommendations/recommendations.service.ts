import { Inject, Injectable } from '@nestjs/common';
import {
  MAX_TOP_N,
  servedModel,
  type AppConfig,
  type RecommendationsResponse,
  type ServedModel,
} from '@retail/common';
import { APP_CONFIG } from '@retail/common/nest';
import { badRequest, notFound } from '../errors.js';
import { FactorRankingsRepository, type FactorModel } from './factor-rankings.repository.js';
import { RecommendationEventsPublisher } from './recommendation-events.publisher.js';
import { RecommendationsRepository, type StoredList } from './recommendations.repository.js';

/**
 * Recommendations for one user from the served model (RECOMMENDER_MODEL): the stored exact list when it is
 * current, otherwise computed now (and stored for the next request). The co-purchase and hybrid models fall
 * back to the description model for cold-start customers (fewer than RECOMMENDER_MIN_PURCHASES purchases
 * known to the model) and while they are not trained yet; the answer says so. Each answer publishes a
 * recommendation event for the explanations.
 */
@Injectable()
export class RecommendationsService {
  private readonly served: ServedModel;
  private readonly factorModel: FactorModel | undefined;
  private trained = false;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly repository: RecommendationsRepository,
    private readonly factors: FactorRankingsRepository,
    private readonly events: RecommendationEventsPublisher,
  ) {
    this.served = servedModel(config);
    this.factorModel =
      this.served.kind === 'description'
        ? undefined
        : {
            name: this.served.name,
            kind: this.served.kind,
            descriptionModel: this.served.descriptionModel,
            minPurchases: config.recommender.minPurchases,
          };
  }

  async recommend(userId: number, topN: number): Promise<RecommendationsResponse> {
    if (!Number.isInteger(topN) || topN < 1 || topN > MAX_TOP_N) {
      throw badRequest(`top_n must be an integer from 1 to ${MAX_TOP_N}`);
    }
    const model = this.factorModel;
    if (!model) return this.fromDescriptions(userId, topN);
    const label = model.kind === 'copurchase' ? 'co-purchase' : 'hybrid';
    if (!(this.trained ||= await this.factors.isTrained(model.name))) {
      return this.fromDescriptions(
        userId,
        topN,
        `the ${label} model is not trained yet (it trains in the background after purchases change, or run ` +
          '`npm run train`): these picks come from product descriptions only',
      );
    }
    let list = await this.repository.findList(userId, model.name, topN);
    if (!list) throw notFound(`user ${userId} has no purchase history`);
    if (!list.fresh) {
      await this.factors.computeLists([userId], model);
      list = (await this.repository.findList(userId, model.name, topN))!;
    }
    if (list.purchasedWithVectors < model.minPurchases) {
      return this.fromDescriptions(
        userId,
        topN,
        `customer ${userId} has ${list.purchasedWithVectors} purchase${list.purchasedWithVectors === 1 ? '' : 's'} ` +
          `the ${label} model knows, fewer than the ${model.minPurchases} it needs: these picks come from product ` +
          'descriptions only',
      );
    }
    return this.answer(userId, list, model.name, model.kind);
  }

  private async fromDescriptions(
    userId: number,
    topN: number,
    fallback?: string,
  ): Promise<RecommendationsResponse> {
    const model = this.served.descriptionModel;
    let list = await this.repository.findList(userId, model, topN);
    if (!list) throw notFound(`user ${userId} has no purchase history`);
    if (!list.fresh) {
      await this.repository.computeLists([userId], model);
      list = (await this.repository.findList(userId, model, topN))!;
    }
    return this.answer(userId, list, model, 'description', fallback);
  }

  private answer(
    userId: number,
    list: StoredList,
    model: string,
    basis: RecommendationsResponse['basis'],
    fallback?: string,
  ): RecommendationsResponse {
    const recommendations = list.productIds.map((product_id, i) => ({
      product_id,
      description: list.descriptions[i]!,
      score: list.scores[i]!,
    }));
    if (recommendations.length > 0) {
      this.events.publishSoon(userId, model, list.purchasesHash, recommendations);
    }
    return {
      user_id: String(userId),
      model,
      basis,
      recommendations,
      ...(recommendations.length === 0 ? { reason: this.emptyReason(list, model) } : {}),
      ...(fallback ? { fallback } : {}),
    };
  }

  private emptyReason(list: StoredList, model: string): string {
    return list.purchasedWithVectors === 0
      ? `none of the products this user bought has a vector in model ${model} yet ` +
          '(run `npm run embed` or wait for the embedder)'
      : 'every product with a vector is already among what this user bought';
  }
}
