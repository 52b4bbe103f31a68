import {
  HttpException,
  HttpStatus,
  Inject,
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
} from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { OutageLog, type AppConfig, type RedisClient } from '@retail/common';
import { APP_CONFIG, REDIS } from '@retail/common/nest';

/** Which limit a request counts against. */
export type LimitKind = 'reads' | 'writes';

const WINDOW_SECONDS = 60;
/** How often the requests counted here are added to the shared count in Redis. */
export const FLUSH_MS = 50;

/** One client's window, as this gateway knows it. */
interface ClientWindow {
  /** The shared count Redis last answered for the window, and when the window ends (epoch ms). */
  consumed: number;
  endsAt: number;
  /** Requests let through here and not yet added in Redis; added but not yet answered. */
  pending: number;
  inFlight: number;
}

/** One limit: the shared counter in Redis, and what this gateway knows of each client's window. */
interface Limit {
  kind: LimitKind;
  redis: RateLimiterRedis;
  points: number;
  windows: Map<string, ClientWindow>;
}

/**
 * The rate limits per client, counted in Redis so that they hold across every gateway replica
 * (rate-limiter-flexible's RateLimiterRedis on the gateway's Redis client: one atomic script per count):
 * RATE_LIMIT_READS_PER_MINUTE and RATE_LIMIT_WRITES_PER_MINUTE in fixed one-minute windows.
 *
 * A request does not wait for Redis once its client's window is known here: the first request of a window
 * is counted in Redis before it is answered, the next ones are decided from the shared count Redis last gave
 * plus what this gateway let through since, and are added to Redis together every FLUSH_MS (as Kong's
 * batch-redis and APISIX's delayed synchronisation do), which takes the Redis round trip off the hot path and
 * one script per request off Redis. One gateway enforces the limit exactly; with several, a client may get
 * up to about FLUSH_MS of requests per gateway past the limit before each has heard the others' counts.
 *
 * Every counted answer carries the limit in the fields of draft-ietf-httpapi-ratelimit-headers-06:
 * `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` (seconds until the window ends) and
 * `RateLimit-Policy` (`6000;w=60`); a refusal is a 429 with `Retry-After`.
 *
 * With Redis away the limits fail open: a client whose window is not known here is answered uncounted (and
 * without the headers), and the log says so once per outage.
 */
@Injectable()
export class RateLimits implements BeforeApplicationShutdown {
  private readonly limits: Partial<Record<LimitKind, Limit>> = {};
  private readonly outage = new OutageLog('the rate limits (Redis)', new Logger(RateLimits.name));
  private flushTimer: NodeJS.Timeout | undefined;

  constructor(@Inject(APP_CONFIG) config: AppConfig, @Inject(REDIS) redis: RedisClient) {
    const perMinute: Record<LimitKind, number> = {
      reads: config.api.readsPerMinute,
      writes: config.api.writesPerMinute,
    };
    for (const kind of ['reads', 'writes'] as const) {
      const points = perMinute[kind];
      if (points <= 0) continue;
      const limiter = new RateLimiterRedis({
        storeClient: redis,
        keyPrefix: `${config.queuePrefix}:rate-limit:${kind}`,
        points,
        duration: WINDOW_SECONDS,
        // Not connected: fail at once (open) instead of waiting for the reconnection.
        rejectIfRedisNotReady: true,
      });
      this.limits[kind] = { kind, redis: limiter, points, windows: new Map() };
    }
  }

  /**
   * Counts one request of `client` against `kind`'s limit: sets the headers on `reply`, and throws a 429
   * when the client is past the limit (a request refused on what this gateway knows is not counted).
   */
  async count(kind: LimitKind, client: string, reply: FastifyReply): Promise<void> {
    const limit = this.limits[kind];
    if (!limit) return;
    const window = this.windowOf(limit, client);
    if (Date.now() >= window.endsAt) {
      // Nothing known of this window here: counted in Redis before the answer.
      window.inFlight++;
      const answer = await this.consume(limit, client, 1);
      window.inFlight--;
      if (!answer) {
        // Redis is away: open.
        if (window.inFlight === 0 && window.pending === 0) limit.windows.delete(client);
        return;
      }
      this.learn(window, answer);
      if (answer.consumedPoints > limit.points) this.refuse(limit, window, reply);
    } else if (window.consumed + window.inFlight + window.pending < limit.points) {
      window.pending++;
      this.flushSoon();
    } else {
      this.refuse(limit, window, reply);
    }
    this.setHeaders(limit, window, reply);
  }

  /** The last counts go to Redis before the connections close. */
  async beforeApplicationShutdown(): Promise<void> {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    await this.flush();
  }

  private windowOf(limit: Limit, client: string): ClientWindow {
    let window = limit.windows.get(client);
    if (!window) {
      window = { consumed: 0, endsAt: 0, pending: 0, inFlight: 0 };
      limit.windows.set(client, window);
    }
    return window;
  }

  /** Adds `points` to the client's count in Redis: its answer (past the limit or not), or undefined. */
  private async consume(limit: Limit, client: string, points: number): Promise<RateLimiterRes | undefined> {
    try {
      const answer = await limit.redis.consume(client, points);
      this.outage.ok();
      return answer;
    } catch (error) {
      if (error instanceof RateLimiterRes) {
        this.outage.ok();
        return error; // past the limit: still the shared count
      }
      this.outage.failed(error);
      return undefined;
    }
  }

  /** What Redis answered, merged into what this gateway knows of the client's window. */
  private learn(window: ClientWindow, answer: RateLimiterRes): void {
    const now = Date.now();
    if (now >= window.endsAt) window.consumed = 0; // a new window
    // Answers may come back out of order: the largest count of the window is the latest.
    window.consumed = Math.max(window.consumed, answer.consumedPoints);
    window.endsAt = now + answer.msBeforeNext;
  }

  private flushSoon(): void {
    if (this.flushTimer) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined;
      void this.flush();
    }, FLUSH_MS);
    this.flushTimer.unref();
  }

  /** Adds every client's pending requests to Redis, and forgets the windows that are over. */
  private async flush(): Promise<void> {
    const now = Date.now();
    const sent: Promise<void>[] = [];
    for (const limit of Object.values(this.limits)) {
      for (const [client, window] of limit.windows) {
        if (window.pending === 0) {
          if (window.inFlight === 0 && now >= window.endsAt) limit.windows.delete(client);
          continue;
        }
        const points = window.pending;
        window.pending = 0;
        window.inFlight += points;
        sent.push(
          this.consume(limit, client, points).then((answer) => {
            window.inFlight -= points;
            if (answer) this.learn(window, answer);
          }),
        );
      }
    }
    await Promise.all(sent);
  }

  private setHeaders(limit: Limit, window: ClientWindow, reply: FastifyReply): void {
    const used = window.consumed + window.inFlight + window.pending;
    void reply
      .header('ratelimit-limit', limit.points)
      .header('ratelimit-remaining', Math.max(0, limit.points - used))
      .header('ratelimit-reset', secondsLeft(window))
      .header('ratelimit-policy', `${limit.points};w=${WINDOW_SECONDS}`);
  }

  private refuse(limit: Limit, window: ClientWindow, reply: FastifyReply): never {
    this.setHeaders(limit, window, reply);
    const reset = secondsLeft(window);
    void reply.header('retry-after', reset);
    throw new HttpException(
      `too many requests: ${limit.points} ${limit.kind} a minute per client; try again in ${reset} s`,
      HttpStatus.TOO_MANY_REQUESTS,
    );
  }
}

function secondsLeft(window: ClientWindow): number {
  return Math.max(1, Math.ceil((window.endsAt - Date.now()) / 1000));
}
