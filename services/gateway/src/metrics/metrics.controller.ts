import { Controller, Get, Header, Inject, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import type { ServiceMetrics } from '@retail/common';
import { METRICS } from '@retail/common/nest';
import { PublicEndpoint } from '../access/access.js';
import { QueuesService } from '../queues/queues.service.js';

/** GET /metrics: Prometheus text, with the depth of every queue read at scrape time (public, like health). */
@ApiExcludeController()
@PublicEndpoint()
@Controller('metrics')
export class MetricsController {
  constructor(
    @Inject(METRICS) private readonly metrics: ServiceMetrics,
    private readonly queues: QueuesService,
  ) {}

  @Get()
  @Header('cache-control', 'no-store')
  async scrape(@Res() reply: FastifyReply): Promise<void> {
    try {
      for (const [queue, state] of Object.entries(await this.queues.states())) {
        for (const [name, value] of Object.entries(state.counts))
          this.metrics.queueJobs.set({ queue, state: name }, value);
        this.metrics.queueOldestWaiting.set({ queue }, state.oldestWaitingSeconds);
      }
    } catch {
      // Redis is away (states() gives up after a second): the other families still answer.
    }
    await reply.header('content-type', this.metrics.contentType).send(await this.metrics.metrics());
  }
}
