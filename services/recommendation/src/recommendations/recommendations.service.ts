import { Inject, Injectable } from '@nestjs/common';
import { RpcException } from '@nestjs/microservices';
import {
  MAX_TOP_N,
  servedModel,
  type AppConfig,
  type RecommendationsResponse,
  type RpcErrorPayload,
  type ServedModel,
} from '@retail/common';
import { APP_CONFIG } from '@retail/common/nest';
import { badRequest, notFound } from '../errors.js';
import type { ListModel, RankedList } from '../ranking/ranking-engine.js';
import { RankingStore } from '../ranking/ranking-store.js';
import { ListsWriter } from './lists-writer.js';
import { RecommendationEventsPublisher } from './recommendation-events.publisher.js';

/**
 * Recommendations for one user from the served model (RECOMMENDER_MODEL): the exact list kept in memory when
 * its inputs have not changed, otherwise computed now (well under a millisecond) and kept. The co-purchase and
 * hybrid models fall back to the description model for cold-start customers (fewer than
 * RECOMMENDER_MIN_PURCHASES purchases known to the model) and while they are not trained yet; the answer says
 * so. Each answer publishes a recommendation event for the explanations.
 */
@Injectable()
export class RecommendationsService {
  private readonly served: ServedModel;
  private readonly minPurchases: number;
  private readonly label: string;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly store: RankingStore,
    private readonly writer: ListsWriter,
    private readonly events: RecommendationEventsPublisher,
  ) {
    this.served = servedModel(config);
    this.minPurchases = config.recommender.minPurchases;
    this.label = this.served.kind === 'copurchase' ? 'co-purchase' : 'hybrid';
  }

  async recommend(userId: number, topN: number): Promise<RecommendationsResponse> {
    if (!Number.isInteger(topN) || topN < 1 || topN > MAX_TOP_N) {
      throw badRequest(`top_n must be an integer from 1 to ${MAX_TOP_N}`);
    }
    await this.store.ready().catch(unavailable);
    const engine = this.store.engine;
    if (!engine.hasCustomer(userId)) throw notFound(`user ${userId} has no purchase history`);
    if (this.served.kind === 'description') return this.answer(userId, 'description', topN);
    if (!engine.isTrained()) {
      return this.answer(
        userId,
        'description',
        topN,
        `the ${this.label} model is not trained yet (it trains in the background after purchases change, or run ` +
          '`npm run train`): these picks come from product descriptions only',
      );
    }
    const list = this.list('served', userId);
    if (list.withVectors < this.minPurchases) {
      return this.answer(
        userId,
        'description',
        topN,
        `customer ${userId} has ${list.withVectors} purchase${list.withVectors === 1 ? '' : 's'} ` +
          `the ${this.label} model knows, fewer than the ${this.minPurchases} it needs: these picks come from product ` +
          'descriptions only',
      );
    }
    return this.answer(userId, 'served', topN, undefined, list);
  }

  private list(which: ListModel, userId: number): RankedList {
    const engine = this.store.engine;
    const fresh = engine.freshList(which, userId);
    if (fresh) return fresh;
    // The customer is known (checked above), so the computation gives their list.
    const computed = engine.compute(which, [userId]).get(userId)!;
    this.writer.keep(which, userId, computed);
    return computed;
  }

  private answer(
    userId: number,
    which: ListModel,
    topN: number,
    fallback?: string,
    known?: RankedList,
  ): RecommendationsResponse {
    const engine = this.store.engine;
    const list = known ?? this.list(which, userId);
    const model = which === 'served' ? this.served.name : this.served.descriptionModel;
    const count = Math.min(topN, list.products.length);
    const recommendations = new Array<RecommendationsResponse['recommendations'][number]>(count);
    for (let i = 0; i < count; i++) {
      const product = list.products[i]!;
      recommendations[i] = {
        product_id: engine.productId(product),
        description: engine.productDescription(product),
        score: list.scores[i]!,
      };
    }
    if (count > 0) this.events.publishSoon(userId, model, list.purchasesHash, recommendations);
    return {
      user_id: String(userId),
      model,
      basis: which === 'served' ? this.served.kind : 'description',
      recommendations,
      ...(count === 0 ? { reason: emptyReason(list, model, engine.merchandiseBought(userId)) } : {}),
      ...(fallback ? { fallback } : {}),
    };
  }
}

function emptyReason(list: RankedList, model: string, merchandiseBought: number): string {
  if (merchandiseBought === 0) {
    return 'this customer bought only postage, fees and other non-merchandise lines: there is nothing to base recommendations on';
  }
  return list.withVectors === 0
    ? `none of the products this user bought has a vector in model ${model} yet ` +
        '(run `npm run embed` or wait for the embedder)'
    : 'every product with a vector is already among what this user bought';
}

function unavailable(error: unknown): never {
  throw new RpcException({
    code: 'unavailable',
    message: error instanceof Error ? error.message : String(error),
  } satisfies RpcErrorPayload);
}
