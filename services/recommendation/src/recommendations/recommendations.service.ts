import { Inject, Injectable } from '@nestjs/common';
import { RpcException } from '@nestjs/microservices';
import type { AppConfig } from '@retail/common';
import { MAX_TOP_N, type RankedList, type RankedProduct, type RpcErrorPayload } from '@retail/contracts';
import { APP_CONFIG } from '@retail/common/nest';
import { badRequest, notFound } from '../errors.js';
import { descriptionStandsIn } from '../ranking/cold-start.js';
import { KeptListsService } from '../ranking/kept-lists.service.js';
import { RankingRepository } from '../ranking/ranking.repository.js';
import { RecommendationEventsPublisher } from './recommendation-events.publisher.js';

/** A customer's list as it is answered. */
interface CurrentList {
  customerVersion: number;
  modelVersion: number;
  withVectors: number;
  products: RankedProduct[];
  refreshing: boolean;
}

/**
 * Recommendations for one user from the served model (RECOMMENDER_MODEL): the list kept in
 * user_recommendations, read by key. A list that is missing, or was computed before the customer's purchases
 * changed, is computed now (one pgvector query) and kept. A list computed before the model changed (new
 * vectors, a retraining) is answered as it is, marked `refreshing`, while the refresh jobs compute every list
 * again. The co-purchase and hybrid models fall back to the description model for cold-start customers
 * (fewer than RECOMMENDER_MIN_PURCHASES purchases known to the model) and while they are not trained yet; the
 * answer says so. Each answer publishes a recommendation event for the explanations.
 */
@Injectable()
export class RecommendationsService {
  private readonly minPurchases: number;
  private readonly label: string;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly lists: KeptListsService,
    private readonly repository: RankingRepository,
    private readonly events: RecommendationEventsPublisher,
  ) {
    this.minPurchases = config.recommender.minPurchases;
    this.label = this.lists.served.kind === 'copurchase' ? 'co-purchase' : 'hybrid';
  }

  async recommend(userId: number, topN: number): Promise<RankedList> {
    if (!Number.isInteger(topN) || topN < 1 || topN > MAX_TOP_N) {
      throw badRequest(`top_n must be an integer from 1 to ${MAX_TOP_N}`);
    }
    const served = this.lists.served;
    if (served.kind === 'description') {
      return this.answer(userId, served.name, await this.current(userId, served.name, topN));
    }
    const list = await this.current(userId, served.name, topN);
    if (!list) {
      return this.answer(
        userId,
        served.descriptionModel,
        await this.current(userId, served.descriptionModel, topN),
        `the ${this.label} model is not trained yet (it trains in the background after purchases change, or run ` +
          '`npm run train`): these picks come from product descriptions only',
      );
    }
    if (descriptionStandsIn(list.withVectors, this.minPurchases)) {
      return this.answer(
        userId,
        served.descriptionModel,
        await this.current(userId, served.descriptionModel, topN),
        `customer ${userId} has ${list.withVectors} purchase${list.withVectors === 1 ? '' : 's'} ` +
          `the ${this.label} model knows, fewer than the ${this.minPurchases} it needs: these picks come from product ` +
          'descriptions only',
      );
    }
    return this.answer(userId, served.name, list);
  }

  /**
   * The customer's current list in `model` (undefined: a co-purchase or hybrid model not trained yet): the kept
   * one when it was computed from the customer's purchases as they are, else computed now.
   */
  private async current(userId: number, model: string, topN: number): Promise<CurrentList | undefined> {
    const kept = await this.repository.kept(userId, model, topN).catch(unavailable);
    if (!kept) throw notFound(`user ${userId} has no purchase history`);
    if (this.lists.kindOf(model) === 'factors' && !kept.trained) return undefined;
    if (kept.list && kept.list.customerVersion === kept.customerVersion) {
      return { ...kept.list, refreshing: kept.list.modelVersion !== kept.modelVersion };
    }
    const computed = await this.lists.compute(userId, model, 'request', topN).catch(unavailable);
    if (!computed) throw notFound(`user ${userId} has no purchase history`);
    return { ...computed, refreshing: false };
  }

  private async answer(
    userId: number,
    model: string,
    list: CurrentList | undefined,
    fallback?: string,
  ): Promise<RankedList> {
    // The description model always ranks (with no vector yet, it ranks nothing).
    const current = list ?? {
      customerVersion: 0,
      modelVersion: 0,
      withVectors: 0,
      products: [],
      refreshing: false,
    };
    const recommendations = current.products;
    if (recommendations.length > 0) {
      this.events.publishSoon(userId, model, String(current.customerVersion), recommendations);
    }
    const basis = model === this.lists.served.name ? this.lists.served.kind : 'description';
    return {
      user_id: String(userId),
      model,
      basis,
      recommendations,
      model_version: current.modelVersion,
      refreshing: current.refreshing,
      ...(recommendations.length === 0
        ? { reason: await this.emptyReason(userId, model, current.withVectors) }
        : {}),
      ...(fallback ? { fallback } : {}),
    };
  }

  private async emptyReason(userId: number, model: string, withVectors: number): Promise<string> {
    if ((await this.repository.merchandiseBought(userId).catch(unavailable)) === 0) {
      return 'this customer bought only postage, fees and other non-merchandise lines: there is nothing to base recommendations on';
    }
    return withVectors === 0
      ? `none of the products this user bought has a vector in model ${model} yet ` +
          '(run `npm run embed` or wait for the embedder)'
      : 'every product with a vector is already among what this user bought';
  }
}

/** Postgres did not answer: the gateway says 503. */
function unavailable(error: unknown): never {
  throw new RpcException({
    code: 'unavailable',
    message: `the recommendations could not be read: ${error instanceof Error ? error.message : String(error)}`,
  } satisfies RpcErrorPayload);
}
