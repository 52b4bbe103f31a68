import { Inject, Logger, type OnApplicationShutdown } from '@nestjs/common';
import type { Worker } from 'bullmq';
import type { AppConfig } from '../config/config.js';
import type { ServiceMetrics } from '../metrics/service-metrics.js';
import { closeWorker } from '../queues/close-worker.js';
import { createQueueWorker, type QueueWorkerOptions } from '../queues/queue-worker.js';
import { APP_CONFIG, METRICS } from './tokens.js';

/** What a consumer fills in of a worker's options: the rest is the service's (configuration, metrics, logger). */
export type ConsumedQueue<Data, Result> = Omit<
  QueueWorkerOptions<Data, Result>,
  'config' | 'metrics' | 'logger'
>;

/**
 * A service's consumer of queues (createQueueWorker): its workers count their jobs in the service's metrics,
 * log under the consumer's class name, and close at the application's shutdown (closeWorker: jobs in progress
 * go back to their queue). The configuration and the metrics are injected into the properties here (Nest sets
 * them before any lifecycle hook runs), so a consumer's constructor takes only what is its own.
 */
export abstract class QueueConsumer implements OnApplicationShutdown {
  @Inject(APP_CONFIG) protected readonly config!: AppConfig;
  @Inject(METRICS) protected readonly metrics!: ServiceMetrics;
  protected readonly logger = new Logger(this.constructor.name);
  private readonly workers: Worker[] = [];

  /** Starts a worker of `queue.queue`. */
  protected consume<Data, Result>(queue: ConsumedQueue<Data, Result>): Worker<Data, Result> {
    const worker = createQueueWorker<Data, Result>({
      ...queue,
      config: this.config,
      metrics: this.metrics,
      logger: this.logger,
    });
    this.workers.push(worker);
    return worker;
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all(this.workers.map((worker) => closeWorker(worker)));
  }
}
