import {
  BadRequestException,
  Inject,
  Injectable,
  Logger,
  NotFoundException,
  ServiceUnavailableException,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { ClientProxy, ClientTCP } from '@nestjs/microservices';
import { TimeoutError, lastValueFrom, timeout } from 'rxjs';
import { OutageLog, type AppConfig, type ServiceMetrics } from '@retail/common';
import {
  RecommendationPatterns,
  isRpcErrorPayload,
  type EraseUserRequest,
  type KnownProductsResponse,
  type ListUsersRequest,
  type ListUsersResponse,
  type Product,
  type ProductIdRequest,
  type ProductRequest,
  type PurchaseLine,
  type PurchasesAccepted,
  type PurchasesResponse,
  type PutProductRequest,
  type RankedList,
  type RecordPurchasesRequest,
  type SimilarProducts,
  type SimilarProductsRequest,
  type UserErased,
  type UserExistsResponse,
} from '@retail/contracts';
import { APP_CONFIG, METRICS } from '@retail/common/nest';

export const RECOMMENDATION_SERVICE = 'RECOMMENDATION_SERVICE';

/**
 * The gateway's side of the @nestjs/microservices contract with the recommendation service. Every call
 * has a deadline; a service that is down or too slow becomes a 503 at once, and the next call connects
 * again by itself once the service is back.
 *
 * A call whose connection breaks (the replica it reached stopped or died) is sent once more on a fresh
 * connection, within the same deadline: with several replicas behind one name, a replica that dies costs no
 * failed request.
 *
 * The log says when the service stops answering and when it is back, one line each (OutageLog: the reason,
 * then how long it was away), never one line per failed call: the 503s themselves are counted in
 * retail_rpc_duration_seconds{outcome="unavailable"}.
 */
@Injectable()
export class RecommendationClient implements OnApplicationShutdown {
  private readonly timeoutMs: number;
  private readonly logger = new Logger('RecommendationClient');
  private readonly outage: OutageLog;

  constructor(
    @Inject(RECOMMENDATION_SERVICE) private readonly client: ClientProxy,
    @Inject(APP_CONFIG) config: AppConfig,
    @Inject(METRICS) private readonly metrics: ServiceMetrics,
  ) {
    this.timeoutMs = config.recommendation.timeoutMs;
    this.outage = new OutageLog(
      `the recommendation service at ${config.recommendation.host}:${config.recommendation.port}`,
      this.logger,
    );
    // The TCP client logs every socket error except "connection refused" at error level with its stack
    // (in containers, `getaddrinfo ENOTFOUND recommendation` while the service's container is away), once
    // per attempt. The same error fails the call that made the attempt, and call() reports it once.
    if (client instanceof ClientTCP) {
      client.handleError = (error: unknown) =>
        this.logger.debug(`socket error: ${String((error as { message?: unknown }).message ?? error)}`);
    }
  }

  listUsers(request: ListUsersRequest): Promise<ListUsersResponse> {
    return this.call(RecommendationPatterns.ListUsers, request);
  }

  exists(userId: number): Promise<UserExistsResponse> {
    return this.call(RecommendationPatterns.UserExists, { userId });
  }

  knownProducts(productIds: string[]): Promise<KnownProductsResponse> {
    return this.call(RecommendationPatterns.KnownProducts, { productIds });
  }

  purchases(userId: number): Promise<PurchasesResponse> {
    return this.call(RecommendationPatterns.UserPurchases, { userId });
  }

  recommendations(userId: number, topN: number): Promise<RankedList> {
    return this.call(RecommendationPatterns.Recommendations, { userId, topN });
  }

  recordPurchases(lines: PurchaseLine[]): Promise<PurchasesAccepted> {
    return this.call(RecommendationPatterns.RecordPurchases, { lines } satisfies RecordPurchasesRequest);
  }

  putProduct(productId: string, request: ProductRequest): Promise<Product> {
    return this.call(RecommendationPatterns.PutProduct, {
      productId,
      description: request.description,
      ...(request.unit_price === undefined ? {} : { unitPrice: request.unit_price }),
    } satisfies PutProductRequest);
  }

  retireProduct(productId: string): Promise<Product> {
    return this.call(RecommendationPatterns.RetireProduct, { productId } satisfies ProductIdRequest);
  }

  similarProducts(productId: string, topN: number): Promise<SimilarProducts> {
    return this.call(RecommendationPatterns.SimilarProducts, {
      productId,
      topN,
    } satisfies SimilarProductsRequest);
  }

  eraseUser(userId: number): Promise<UserErased> {
    return this.call(RecommendationPatterns.EraseUser, { userId } satisfies EraseUserRequest);
  }

  health(): Promise<{ postgres: boolean }> {
    return this.call(RecommendationPatterns.Health, {});
  }

  async onApplicationShutdown(): Promise<void> {
    await this.client.close();
  }

  private async call<T>(pattern: string, payload: unknown): Promise<T> {
    const stop = this.metrics.rpcDuration.startTimer({ pattern });
    const started = performance.now();
    const send = (deadline: number) =>
      lastValueFrom(this.client.send<T>(pattern, payload).pipe(timeout(deadline)));
    try {
      let answer: T;
      try {
        answer = await send(this.timeoutMs);
      } catch (error) {
        // The connection broke (the replica it reached stopped or died): once more, on a fresh connection
        // (the client connects again by itself, and resolves the service's name again: another replica),
        // within what is left of the deadline. Every call here is harmless to repeat: the reads, and the
        // writes, which are idempotent (purchases by invoice, products and erasures by id).
        const left = this.timeoutMs - (performance.now() - started);
        if (!this.connectionBroke(error) || left < 1) throw error;
        answer = await send(left);
      }
      stop({ outcome: 'success' });
      this.outage.ok();
      return answer;
    } catch (error) {
      const translated = this.translate(error);
      stop({ outcome: translated instanceof ServiceUnavailableException ? 'unavailable' : 'error' });
      const unreachable = this.unreachable(error);
      if (unreachable === undefined)
        this.outage.ok(); // it answered, with its own error
      else this.outage.failed(unreachable);
      throw translated;
    }
  }

  /** Whether the call failed because its connection did (refused, reset, closed), not by a slow answer. */
  private connectionBroke(error: unknown): boolean {
    if (error instanceof TimeoutError || isRpcErrorPayload(error)) return false;
    return this.unreachable(error) !== undefined;
  }

  /** Why a call did not reach the service, or undefined when the service answered it. */
  private unreachable(error: unknown): string | undefined {
    if (error instanceof TimeoutError) return `no answer within ${this.timeoutMs} ms`;
    if (isRpcErrorPayload(error)) return undefined;
    const { code, message } = error as { code?: unknown; message?: unknown };
    if (typeof code === 'string' && /^E[A-Z]+/.test(code))
      return typeof message === 'string' ? message : code;
    // The connection closed with the call in flight (the service stopped or crashed).
    if (message === 'Connection closed') return 'the connection closed';
    return undefined;
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
