import { Injectable, NotFoundException, ServiceUnavailableException } from '@nestjs/common';
import type {
  ExplanationsResponse,
  UserErased,
  ListUsersQuery,
  PurchasesResponse,
  RecommendationsQuery,
  RecommendationsResponse,
  UsersPage,
} from '@retail/contracts';
import { ExplanationLookupService } from '../explanations/explanation-lookup.service.js';
import { RecommendationClient } from '../recommendation-client/recommendation.client.js';

/** Who waits for the explanations of a recommendations answer: a person now, or nobody yet. */
export type ExplanationUrgency = RecommendationsQuery['explanations'];

/** Customers known to exist, so that polling the explanations costs no call to the recommendation service. */
const KNOWN_CUSTOMERS = 50_000;
/** Products known to exist (recommended, or asked about), for the same reason. */
const KNOWN_PRODUCTS = 50_000;

/**
 * Composes the storefront's answers: the recommendation service's lists and users, with the sentences
 * the explanation service wrote.
 */
@Injectable()
export class UserRecommendationsService {
  private readonly known = new Set<number>();
  private readonly knownProducts = new Set<string>();

  constructor(
    private readonly recommendation: RecommendationClient,
    private readonly explanations: ExplanationLookupService,
  ) {}

  /** A page of users, and the offset of the next page (null on the last). */
  async listUsers(query: ListUsersQuery): Promise<UsersPage> {
    const page = await this.recommendation.listUsers(query);
    const next = query.offset + page.users.length;
    return { ...page, next_offset: page.users.length > 0 && next < page.total ? next : null };
  }

  purchases(userId: number): Promise<PurchasesResponse> {
    return this.recommendation.purchases(userId);
  }

  /**
   * The user's recommendations with their explanations where written. With `now`, a person is waiting:
   * the missing sentences are written before any background work.
   */
  async recommendations(
    userId: number,
    topN: number,
    urgency: ExplanationUrgency,
  ): Promise<RecommendationsResponse> {
    const answer = await this.recommendation.recommendations(userId, topN);
    this.remember(userId); // answered, so the customer exists: the page's polls need not ask again
    for (const { product_id } of answer.recommendations) this.rememberProduct(product_id);
    const explanations = await this.explanations.lookup(
      answer.user_id,
      answer.recommendations.map((r) => r.product_id),
      urgency === 'now',
    );
    return {
      ...answer,
      recommendations: answer.recommendations.map((r, i) => {
        const { explanation, explanation_status, explanation_source } = explanations[i]!;
        return { ...r, explanation, explanation_status, explanation_source };
      }),
    };
  }

  /**
   * What the page polls: asking for sentences means someone is waiting for them. An unknown customer or
   * product is a 404.
   */
  async explanationsFor(userId: number, productIds: string[]): Promise<ExplanationsResponse> {
    await this.mustExist(userId);
    await this.mustBeProducts(productIds);
    const id = String(userId);
    return { user_id: id, explanations: await this.explanations.lookup(id, productIds, true) };
  }

  /**
   * Erases a customer at their request: their purchases and lists (the recommendation service), then their
   * cached sentences (Redis). When Redis does not answer, the purchases are erased already and the answer is
   * a 503 saying to repeat the request (erasing again is harmless).
   */
  async erase(userId: number): Promise<UserErased> {
    const answer = await this.recommendation.eraseUser(userId);
    this.known.delete(userId);
    try {
      await this.explanations.forget(String(userId));
    } catch {
      throw new ServiceUnavailableException(
        `the purchases of user ${userId} are erased, but their cached explanations could not be (Redis does not ` +
          'answer): repeat the request',
      );
    }
    return answer;
  }

  private async mustExist(userId: number): Promise<void> {
    if (this.known.has(userId)) return;
    if (!(await this.recommendation.exists(userId)).exists) {
      throw new NotFoundException(`user ${userId} has no purchase history`);
    }
    this.remember(userId);
  }

  private async mustBeProducts(productIds: string[]): Promise<void> {
    const unchecked = [...new Set(productIds)].filter((id) => !this.knownProducts.has(id));
    if (unchecked.length === 0) return;
    const known = new Set((await this.recommendation.knownProducts(unchecked)).known);
    const unknown = unchecked.filter((id) => !known.has(id));
    if (unknown.length > 0) {
      throw new NotFoundException(
        `${unknown.length === 1 ? 'no product has the id' : 'no products have the ids'} ${unknown.join(', ')}`,
      );
    }
    for (const id of unchecked) this.rememberProduct(id);
  }

  private rememberProduct(productId: string): void {
    if (this.knownProducts.has(productId)) return;
    if (this.knownProducts.size >= KNOWN_PRODUCTS) this.knownProducts.clear();
    this.knownProducts.add(productId);
  }

  private remember(userId: number): void {
    if (this.known.has(userId)) return;
    if (this.known.size >= KNOWN_CUSTOMERS) this.known.clear();
    this.known.add(userId);
  }
}
