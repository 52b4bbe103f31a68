import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import type { Queue } from 'bullmq';
import {
  OutageLog,
  QueueNames,
  createQueue,
  withDeadline,
  type AppConfig,
  type QueueName,
} from '@retail/common';
import { APP_CONFIG } from '@retail/common/nest';

export interface QueueState {
  /** Jobs per state. */
  counts: Record<string, number>;
  /** Age in seconds of the oldest job waiting (0 when none waits). */
  oldestWaitingSeconds: number;
}

/**
 * The gateway's handle on the job queues: it reads them (readiness, metrics, dashboard) and produces the
 * interactive explanation requests.
 */
@Injectable()
export class QueuesService implements OnApplicationShutdown {
  private readonly byName: Map<QueueName, Queue>;

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    const outage = new OutageLog('Redis (queues)', new Logger(QueuesService.name));
    this.byName = new Map(
      Object.values(QueueNames).map((name: QueueName) => [name, createQueue(name, config, outage)]),
    );
  }

  get queues(): Queue[] {
    return [...this.byName.values()];
  }

  get(name: QueueName): Queue {
    return this.byName.get(name)!;
  }

  /**
   * Whether the queues' connections answer (readiness: one count a queue, no job read; the caller bounds
   * the wait).
   */
  async ping(): Promise<void> {
    await Promise.all(this.queues.map((queue) => queue.getJobCounts('waiting')));
  }

  /**
   * Jobs per state, and the age of the oldest waiting job, per queue (for /metrics); fails after `deadlineMs` when Redis
   * does not answer (the queues' connections wait for it by design).
   */
  states(deadlineMs = 1_000): Promise<Record<string, QueueState>> {
    return withDeadline(this.readStates(), deadlineMs, 'the queues (Redis)');
  }

  private async readStates(): Promise<Record<string, QueueState>> {
    const now = Date.now();
    const entries = await Promise.all(
      this.queues.map(async (queue): Promise<[string, QueueState]> => {
        const [counts, oldest] = await Promise.all([
          queue.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'completed', 'failed'),
          queue.getJobs(['waiting'], 0, 0, true),
        ]);
        const timestamp = oldest[0]?.timestamp;
        return [
          queue.name,
          { counts, oldestWaitingSeconds: timestamp ? Math.max(0, (now - timestamp) / 1000) : 0 },
        ];
      }),
    );
    return Object.fromEntries(entries);
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all(this.queues.map((queue) => queue.close()));
  }
}
