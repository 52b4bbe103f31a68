import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { AppConfig, RedisClient } from '@retail/common';

/** How the deployment's model-call budget is set (from LLM_* and EXPLANATION_BACKGROUND_*). */
export interface SharedBudgetSettings {
  queuePrefix: AppConfig['queuePrefix'];
  /** Calls started per window by every process of the deployment, both lanes (LLM_REQUESTS_PER_MINUTE). */
  requestsPerWindow: number;
  /** Of those, at most this many for background work (EXPLANATION_BACKGROUND_REQUESTS_PER_MINUTE). */
  backgroundPerWindow: number;
  /** The last calls of a window that background work never takes (see ModelCallBudget). */
  interactiveReserve: number;
  /** The window, in whole seconds: 60 (the settings are per minute); tests shorten it. */
  windowSeconds?: number;
}

/** What asking for one call found: a permit (the call is counted), or how long until asking again helps. */
export type BudgetTake =
  | { granted: true }
  | {
      granted: false;
      retryInMs: number;
      reason: 'spent' | 'background-spent' | 'reserve' | 'shoppers-waiting';
    };

/**
 * How long background work stays away after a shopper found a window spent: past the start of the next
 * window, so that the shoppers waiting in every process take its first calls.
 */
const SHOPPERS_FIRST_MS = 1_000;

/**
 * Increments a window's count only when the call fits: a refused call counts nothing, so that a background
 * call refused at the reserve takes nothing from the shoppers (the library's own script counts refused
 * calls too). Same arguments and answer as the library's script: ARGV = points, window seconds, limit;
 * answers {count, ms left in the window}, the count past the limit when refused. A give-back (negative
 * points) never takes the count below zero.
 */
const COUNT_IF_IT_FITS = `
redis.call('set', KEYS[1], 0, 'EX', ARGV[2], 'NX')
local consumed = tonumber(redis.call('get', KEYS[1]))
local points = tonumber(ARGV[1])
local ttl = redis.call('pttl', KEYS[1])
if ttl == -1 then
  redis.call('expire', KEYS[1], ARGV[2])
  ttl = 1000 * ARGV[2]
end
if points > 0 and consumed + points > tonumber(ARGV[3]) then
  return {consumed + points, ttl}
end
if consumed + points < 0 then
  points = -consumed
end
return {redis.call('incrby', KEYS[1], points), ttl}
`;

/**
 * Every Redis key of the model-call budget that all explanation processes of a deployment share
 * (rate-limiter-flexible's Redis limiter, fixed windows that start with the first call after the last
 * window ended, on the service's ioredis connection):
 * - `<prefix>:model-calls:all`: calls started in the current window, both lanes;
 * - `<prefix>:model-calls:background`: background calls started in the current background window;
 * - `<prefix>:model-calls:shoppers-waiting`: set while some process has a shopper's call waiting for the next
 *   window (background work takes nothing until it lapses).
 * A count lives as long as its window. The limiters install their script on the connection as the command
 * `rlflxIncr`: every rate-limiter-flexible Redis limiter on that connection must use COUNT_IF_IT_FITS.
 * Redis errors are thrown as they are (the service's client gives up on a command after about a second, see
 * createRedis; the caller decides how to wait); a spent budget is an answer, not an error.
 */
export class ModelCallBudgetRepository {
  private readonly all: RateLimiterRedis;
  /** The same count as `all`, with the limit background work stops at (the reserve left over). */
  private readonly allForBackground: RateLimiterRedis;
  private readonly background: RateLimiterRedis;
  private readonly shoppersWaitingKey: string;

  constructor(
    private readonly redis: RedisClient,
    settings: SharedBudgetSettings,
  ) {
    const prefix = `${settings.queuePrefix}:model-calls`;
    const limiter = (points: number) =>
      new RateLimiterRedis({
        storeClient: redis,
        keyPrefix: prefix,
        points: Math.max(1, points),
        duration: settings.windowSeconds ?? 60,
        customIncrTtlLuaScript: COUNT_IF_IT_FITS,
      });
    this.all = limiter(settings.requestsPerWindow);
    this.allForBackground = limiter(settings.requestsPerWindow - settings.interactiveReserve);
    this.background = limiter(settings.backgroundPerWindow);
    this.shoppersWaitingKey = `${prefix}:shoppers-waiting`;
  }

  /** One call for a shopper: from the shared window, whatever is left of it. */
  async takeInteractive(): Promise<BudgetTake> {
    const refused = await refusal(this.all.consume('all'));
    if (refused === undefined) return { granted: true };
    await this.redis.set(this.shoppersWaitingKey, '1', 'PX', refused + SHOPPERS_FIRST_MS);
    return { granted: false, retryInMs: refused, reason: 'spent' };
  }

  /**
   * One background call: not while a shopper waits for the next window; from the background window; and
   * from the shared one only while more than the reserve is left of it (a background permit taken for a
   * call the shared window refuses is given back).
   */
  async takeBackground(): Promise<BudgetTake> {
    const waiting = await this.redis.pttl(this.shoppersWaitingKey);
    if (waiting > 0) return { granted: false, retryInMs: waiting, reason: 'shoppers-waiting' };
    const backgroundSpent = await refusal(this.background.consume('background'));
    if (backgroundSpent !== undefined) {
      return { granted: false, retryInMs: backgroundSpent, reason: 'background-spent' };
    }
    const reserveReached = await refusal(this.allForBackground.consume('all'));
    if (reserveReached === undefined) return { granted: true };
    await this.background.reward('background');
    return { granted: false, retryInMs: reserveReached, reason: 'reserve' };
  }

  /** As the limiters do: an unreachable Redis is an error at once, not a command queued until it is back. */
  private throwUnlessReady(): void {
    if (this.redis.status !== 'ready')
      throw new Error(`Redis connection is not ready (${this.redis.status})`);
  }
}

/** Undefined when the limiter counted the call; the ms left in its window when it refused it. */
async function refusal(consumed: Promise<RateLimiterRes>): Promise<number | undefined> {
  try {
    await consumed;
    return undefined;
  } catch (error) {
    if (error instanceof RateLimiterRes) return Math.max(1, error.msBeforeNext);
    throw error;
  }
}
