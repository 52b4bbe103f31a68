import { HttpException, HttpStatus, Inject, Injectable, Logger } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { OutageLog, type AppConfig, type RedisClient } from '@retail/common';
import { APP_CONFIG, REDIS } from '@retail/common/nest';

/** Which limit a request counts against. */
export type LimitKind = 'reads' | 'writes';

const WINDOW_SECONDS = 60;

/**
 * The rate limits per client, counted in Redis (rate-limiter-flexible's RateLimiterRedis on the gateway's
 * Redis client: one atomic script per request, automatically pipelined), so that they hold across every
 * gateway replica: RATE_LIMIT_READS_PER_MINUTE and RATE_LIMIT_WRITES_PER_MINUTE in fixed one-minute windows.
 * A client past its limit is refused in memory until the window ends, without asking Redis again.
 *
 * Every counted answer carries the limit in the fields of draft-ietf-httpapi-ratelimit-headers-06:
 * `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` (seconds until the window ends) and
 * `RateLimit-Policy` (`6000;w=60`); a refusal is a 429 with `Retry-After`.
 *
 * With Redis away the limits fail open: requests are answered uncounted (and without the headers), and the
 * log says so once per outage.
 */
@Injectable()
export class RateLimits {
  private readonly limiters: Partial<Record<LimitKind, RateLimiterRedis>> = {};
  private readonly outage = new OutageLog('the rate limits (Redis)', new Logger(RateLimits.name));

  constructor(@Inject(APP_CONFIG) config: AppConfig, @Inject(REDIS) redis: RedisClient) {
    const perMinute: Record<LimitKind, number> = {
      reads: config.api.readsPerMinute,
      writes: config.api.writesPerMinute,
    };
    for (const kind of ['reads', 'writes'] as const) {
      const points = perMinute[kind];
      if (points <= 0) continue;
      this.limiters[kind] = new RateLimiterRedis({
        storeClient: redis,
        keyPrefix: `${config.queuePrefix}:rate-limit:${kind}`,
        points,
        duration: WINDOW_SECONDS,
        inMemoryBlockOnConsumed: points + 1,
        // Not connected: fail at once (open) instead of waiting for the reconnection.
        rejectIfRedisNotReady: true,
      });
    }
  }

  /**
   * Counts one request of `client` against `kind`'s limit: sets the headers on `reply`, and throws a 429
   * when the client is past the limit.
   */
  async count(kind: LimitKind, client: string, reply: FastifyReply): Promise<void> {
    const limiter = this.limiters[kind];
    if (!limiter) return;
    let state: RateLimiterRes;
    let refused = false;
    try {
      state = await limiter.consume(client);
      this.outage.ok();
    } catch (error) {
      if (!(error instanceof RateLimiterRes)) {
        this.outage.failed(error);
        return;
      }
      state = error;
      refused = true;
    }
    const reset = Math.max(1, Math.ceil(state.msBeforeNext / 1000));
    void reply
      .header('ratelimit-limit', limiter.points)
      .header('ratelimit-remaining', state.remainingPoints)
      .header('ratelimit-reset', reset)
      .header('ratelimit-policy', `${limiter.points};w=${WINDOW_SECONDS}`);
    if (!refused) return;
    void reply.header('retry-after', reset);
    throw new HttpException(
      `too many requests: ${limiter.points} ${kind} a minute per client; try again in ${reset} s`,
      HttpStatus.TOO_MANY_REQUESTS,
    );
  }
}
