import {
  BadRequestException,
  Inject,
  Injectable,
  NotFoundException,
  ServiceUnavailableException,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { ClientProxy } from '@nestjs/microservices';
import { TimeoutError, lastValueFrom, timeout } from 'rxjs';
import {
  RecommendationPatterns,
  isRpcErrorPayload,
  type AppConfig,
  type ListUsersRequest,
  type ListUsersResponse,
  type PurchasesResponse,
  type RecommendationsResponse,
  type UserExistsResponse,
  type ServiceMetrics,
} from '@retail/common';
import { APP_CONFIG, METRICS } from '@retail/common/nest';

export const RECOMMENDATION_SERVICE = 'RECOMMENDATION_SERVICE';

/**
 * The gateway's side of the @nestjs/microservices contract with the recommendation service. Every call
 * has a deadline; a service that is down or too slow becomes a 503 at once, and the next call connects
 * again by itself once the service is back.
 */
@Injectable()
export class RecommendationClient implements OnApplicationShutdown {
  private readonly timeoutMs: number;

  constructor(
    @Inject(RECOMMENDATION_SERVICE) private readonly client: ClientProxy,
    @Inject(APP_CONFIG) config: AppConfig,
    @Inject(METRICS) private readonly metrics: ServiceMetrics,
  ) {
    this.timeoutMs = config.recommendation.timeoutMs;
  }

  listUsers(request: ListUsersRequest): Promise<ListUsersResponse> {
    return this.call(RecommendationPatterns.ListUsers, request);
  }

  exists(userId: number): Promise<UserExistsResponse> {
    return this.call(RecommendationPatterns.UserExists, { userId });
  }

  purchases(userId: number): Promise<PurchasesResponse> {
    return this.call(RecommendationPatterns.UserPurchases, { userId });
  }

  recommendations(userId: number, topN: number): Promise<RecommendationsResponse> {
    return this.call(RecommendationPatterns.Recommendations, { userId, topN });
  }

  health(): Promise<{ postgres: boolean }> {
    return this.call(RecommendationPatterns.Health, {});
  }

  async onApplicationShutdown(): Promise<void> {
    await this.client.close();
  }

  private async call<T>(pattern: string, payload: unknown): Promise<T> {
    const stop = this.metrics.rpcDuration.startTimer({ pattern });
    try {
      const answer = await lastValueFrom(this.client.send<T>(pattern, payload).pipe(timeout(this.timeoutMs)));
      stop({ outcome: 'success' });
      return answer;
    } catch (error) {
      const translated = this.translate(error);
      stop({ outcome: translated instanceof ServiceUnavailableException ? 'unavailable' : 'error' });
      throw translated;
    }
  }

  private translate(error: unknown): Error {
    if (error instanceof TimeoutError) {
      return new ServiceUnavailableException(
        `the recommendation service did not answer within ${this.timeoutMs} ms`,
      );
    }
    if (isRpcErrorPayload(error)) {
      if (error.code === 'not_found') return new NotFoundException(error.message);
      if (error.code === 'bad_request') return new BadRequestException(error.message);
      return new ServiceUnavailableException(error.message);
    }
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string' && /^E[A-Z]+/.test(code)) {
      return new ServiceUnavailableException('the recommendation service is unavailable');
    }
    // Anything else (an unexpected failure inside the service): a 503 without details.
    return new ServiceUnavailableException('the recommendation service could not answer');
  }
}
