import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import type { Queue } from 'bullmq';
import {
  OutageLog,
  QueueNames,
  createQueue,
  enqueueMissingEmbeddings,
  withDeadline,
  type AppConfig,
  type Database,
  type EmbeddingJobData,
} from '@retail/common';
import { APP_CONFIG, DATABASE } from '@retail/common/nest';

/** How long queueing embedding jobs may wait for Redis (what is missing is found again later). */
const QUEUE_DEADLINE_MS = 2_000;

/**
 * Asks the embedder for the vectors the catalog lacks (new products, new descriptions): embedding jobs for
 * every product without a current vector in the active model (job ids derive from the texts, so asking twice
 * queues nothing twice). With Redis away it says so once and returns; the refresh planner asks again.
 */
@Injectable()
export class EmbeddingRequests implements OnApplicationShutdown {
  private readonly logger = new Logger(EmbeddingRequests.name);
  private readonly outage = new OutageLog('Redis (embedding jobs are queued when it is back)', this.logger);
  private readonly queue: Queue<EmbeddingJobData>;
  private readonly requests = new Set<Promise<number>>();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(DATABASE) private readonly db: Database,
  ) {
    this.queue = createQueue<EmbeddingJobData>(QueueNames.Embeddings, config, this.outage);
  }

  /** Queues what is missing; returns how many products were (0 when Redis is away). */
  async queueMissing(): Promise<number> {
    try {
      const queued = await withDeadline(
        enqueueMissingEmbeddings(this.db, this.queue, this.config),
        QUEUE_DEADLINE_MS,
        'Redis',
      );
      this.outage.ok();
      return queued.products;
    } catch (error) {
      this.outage.failed(error);
      return 0;
    }
  }

  /**
   * Queues what is missing in the background, so that an answer never waits for Redis (shutdown lets the
   * last request finish, within the deadline).
   */
  requestMissing(): void {
    const request = this.queueMissing().finally(() => this.requests.delete(request));
    this.requests.add(request);
  }

  async onApplicationShutdown(): Promise<void> {
    await withDeadline(Promise.all(this.requests), QUEUE_DEADLINE_MS, 'Redis').catch(() => undefined);
    await withDeadline(this.queue.close(), QUEUE_DEADLINE_MS, 'Redis').catch(() => undefined);
  }
}
