import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import type { Queue } from 'bullmq';
import { QueueNames, createQueue, type AppConfig, type QueueName } from '@retail/common';
import { APP_CONFIG } from '@retail/common/nest';

/** The gateway's read-only view of the job queues (readiness, metrics, dashboard). */
@Injectable()
export class QueuesService implements OnApplicationShutdown {
  readonly queues: Queue[];

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    this.queues = Object.values(QueueNames).map((name: QueueName) => createQueue(name, config));
  }

  /** Jobs per state, per queue. */
  async counts(): Promise<Record<string, Record<string, number>>> {
    const entries = await Promise.all(
      this.queues.map(async (queue) => [
        queue.name,
        await queue.getJobCounts('waiting', 'active', 'delayed', 'completed', 'failed'),
      ]),
    );
    return Object.fromEntries(entries) as Record<string, Record<string, number>>;
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all(this.queues.map((queue) => queue.close()));
  }
}
