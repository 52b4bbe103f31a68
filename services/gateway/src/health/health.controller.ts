import { Controller, Get, Inject, ServiceUnavailableException } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Database, RedisClient } from '@retail/common';
import { DATABASE, REDIS } from '@retail/common/nest';
import { RecommendationClient } from '../recommendation-client/recommendation.client.js';
import { QueuesService } from '../queues/queues.service.js';

type Check = { ok: true } | { ok: false; error: string };

async function check(probe: () => Promise<unknown>): Promise<Check> {
  try {
    await probe();
    return { ok: true };
  } catch (error) {
    return { ok: false, error: error instanceof Error ? error.message : String(error) };
  }
}

@ApiTags('health')
@Controller('api/health')
export class HealthController {
  constructor(
    @Inject(DATABASE) private readonly db: Database,
    @Inject(REDIS) private readonly redis: RedisClient,
    private readonly recommendation: RecommendationClient,
    private readonly queues: QueuesService,
  ) {}

  @Get()
  @ApiOperation({ summary: 'Liveness: the gateway process answers' })
  @ApiOkResponse({ schema: { type: 'object', properties: { status: { type: 'string', example: 'ok' } } } })
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('ready')
  @ApiOperation({ summary: 'Readiness: Postgres, Redis, the recommendation service and the queues answer' })
  @ApiOkResponse({ description: 'every dependency answers' })
  @ApiResponse({ status: 503, description: 'a dependency is down (the body says which)' })
  async ready(): Promise<Record<string, unknown>> {
    const [postgres, redis, recommendation, queues] = await Promise.all([
      check(() => this.db.query('SELECT 1')),
      check(() => this.redis.ping()),
      check(() => this.recommendation.health()),
      check(() => this.queues.states()),
    ]);
    const checks = { postgres, redis, recommendation, queues };
    const ok = Object.values(checks).every((c) => c.ok);
    const body = { status: ok ? 'ready' : 'unavailable', checks };
    if (!ok) throw new ServiceUnavailableException({ message: describe(checks), checks });
    return body;
  }
}

function describe(checks: Record<string, Check>): string {
  const down = Object.entries(checks)
    .filter(([, c]) => !c.ok)
    .map(([name, c]) => `${name}: ${c.ok ? '' : c.error}`);
  return `not ready: ${down.join('; ')}`;
}
