import { Controller, Get, Inject, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { withDeadline, type Database, type RedisClient } from '@retail/common';
import {
  liveness,
  readiness,
  unreadiness,
  type DependencyCheck,
  type Readiness,
  type Unreadiness,
} from '@retail/contracts';
import { DATABASE, REDIS } from '@retail/common/nest';
import { PublicEndpoint } from '../access/access.js';
import { RecommendationClient } from '../recommendation-client/recommendation.client.js';
import { QueuesService } from '../queues/queues.service.js';

type Check = DependencyCheck;

/** How long readiness waits for each dependency: an answer within seconds, whatever is down. */
const CHECK_DEADLINE_MS = 1_000;

async function check(what: string, probe: () => Promise<unknown>): Promise<Check> {
  try {
    await withDeadline(probe(), CHECK_DEADLINE_MS, what);
    return { ok: true };
  } catch (error) {
    return { ok: false, error: error instanceof Error ? error.message : String(error) };
  }
}

/** Liveness and readiness: public whatever API_KEYS_REQUIRED_FOR_READS says (probes carry no key). */
@ApiTags('health')
@PublicEndpoint()
@Controller('api/health')
export class HealthController {
  constructor(
    @Inject(DATABASE) private readonly db: Database,
    @Inject(REDIS) private readonly redis: RedisClient,
    private readonly recommendation: RecommendationClient,
    private readonly queues: QueuesService,
  ) {}

  @Get()
  @ApiOperation({ operationId: 'getLiveness', summary: 'Liveness: the gateway process answers' })
  @ApiOkResponse({ description: 'the gateway process answers', standardSchema: liveness })
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('ready')
  @ApiOperation({
    operationId: 'getReadiness',
    summary: 'Readiness: Postgres, Redis, the recommendation service and the queues answer',
  })
  @ApiOkResponse({ description: 'every dependency answers', standardSchema: readiness })
  @ApiResponse({
    status: 503,
    description: 'a dependency is down (the body says which)',
    standardSchema: unreadiness,
  })
  async ready(@Res({ passthrough: true }) reply: FastifyReply): Promise<Readiness | Unreadiness> {
    const [postgres, redis, recommendation, queues] = await Promise.all([
      check('Postgres', () => this.db.query('SELECT 1')),
      check('Redis', () => this.redis.ping()),
      check('the recommendation service', () => this.recommendation.health()),
      check('the queues', () => this.queues.ping()),
    ]);
    const checks = { postgres, redis, recommendation, queues };
    const ok = Object.values(checks).every((c) => c.ok);
    if (ok) return { status: 'ready', checks };
    // The error shape every failure has, plus what each dependency answered.
    void reply.status(503);
    return {
      statusCode: 503,
      error: 'Service Unavailable',
      message: describe(checks),
      status: 'unavailable',
      checks,
    };
  }
}

function describe(checks: Record<string, Check>): string {
  const down = Object.entries(checks)
    .filter(([, c]) => !c.ok)
    .map(([name, c]) => `${name}: ${c.ok ? '' : c.error}`);
  return `not ready: ${down.join('; ')}`;
}
