import { UnrecoverableError, WaitingError, Worker, type Job } from 'bullmq';
import type { AppConfig } from '../config/config.js';
import type { ServiceMetrics } from '../metrics/service-metrics.js';
import { OutageLog } from '../util/outage-log.js';
import { bullConnection } from './queues.js';
import type { QueueName } from './queue-names.js';

export interface WorkerLogger {
  debug(message: string): void;
  log(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export interface QueueWorkerOptions<Data, Result> {
  queue: QueueName;
  config: Pick<AppConfig, 'redisUrl' | 'queuePrefix' | 'workerLockMs'>;
  concurrency: number;
  /** Where the outcomes are counted (a command-line process that runs a worker for a while has none). */
  metrics?: ServiceMetrics;
  logger: WorkerLogger;
  /**
   * The work of one job: a function run in this process (`signal` aborts when the worker shuts down: stop,
   * and the job is handed back), or `{ sandboxed: file }`, a BullMQ sandboxed processor run in a worker
   * thread, for CPU-bound work that would otherwise stop this process from renewing its job locks.
   */
  process: ((job: Job<Data, Result>, signal?: AbortSignal) => Promise<Result>) | { sandboxed: string };
  /** One line on a completed job, logged at `completedLevel` (debug unless said otherwise). */
  describe: (job: Job<Data, Result>, result: Result) => string;
  completedLevel?: 'debug' | 'log';
}

/**
 * A BullMQ worker with the settings every queue of the system shares: the claim on a job lasts
 * WORKER_LOCK_MS (after a crash the job returns to the queue about that long later), outcomes are counted
 * in retail_queue_job_outcomes_total, failures are logged with whether they will be retried, and a job
 * cancelled by a shutdown goes back to the queue untouched. Close it with closeWorker.
 */
export function createQueueWorker<Data, Result>(
  options: QueueWorkerOptions<Data, Result>,
): Worker<Data, Result> {
  const { queue, config, metrics, logger, process: work } = options;
  const processor =
    typeof work === 'function'
      ? async (job: Job<Data, Result>, token?: string, signal?: AbortSignal): Promise<Result> => {
          try {
            return await work(job, signal);
          } catch (error) {
            // Cancelled by a shutdown: back to the front of the queue at once, no attempt counted.
            if (signal?.aborted && token) {
              await job.moveToWait(token);
              throw new WaitingError();
            }
            throw error;
          }
        }
      : work.sandboxed;
  const worker = new Worker<Data, Result>(queue, processor, {
    connection: bullConnection(config),
    prefix: config.queuePrefix,
    concurrency: options.concurrency,
    useWorkerThreads: typeof work !== 'function',
    lockDuration: config.workerLockMs,
    // A job whose worker died is found by two checks in a row (the first marks it, the second moves it
    // back), so checking often brings it back soon after its lock lapses: about WORKER_LOCK_MS + 2 s.
    stalledInterval: stalledCheckInterval(config.workerLockMs),
    maxStalledCount: 3,
  });
  const outage = new OutageLog(`Redis (worker of "${queue}")`, logger);
  outages.set(worker, outage);
  worker.on('ready', () => outage.ok());
  worker.on('active', () => outage.ok());
  worker.on('completed', (job, result) => {
    metrics?.jobOutcomes.inc({ queue, outcome: 'completed' });
    const line = options.describe(job, result);
    if (options.completedLevel === 'log') logger.log(line);
    else logger.debug(line);
  });
  worker.on('failed', (job, error) => {
    const final = !job || job.attemptsMade >= (job.opts.attempts ?? 1) || error instanceof UnrecoverableError;
    metrics?.jobOutcomes.inc({ queue, outcome: final ? 'failed' : 'retried' });
    logger.warn(
      `job ${job?.id ?? '?'} attempt ${job?.attemptsMade ?? '?'} failed${final ? ' for good' : ', will retry'}: ${error.message}`,
    );
  });
  worker.on('error', (error) => outage.failed(error));
  return worker;
}

/** Each worker's view of its Redis connection (closeWorker does not wait for a Redis that is away). */
const outages = new WeakMap<Worker, OutageLog>();

/** Whether the worker's Redis is away (as far as its last connection event says). */
export function workerRedisAway(worker: Worker): boolean {
  return outages.get(worker)?.down ?? false;
}

/** How often a worker looks for jobs whose worker died (a cheap script run; at least once a second). */
export function stalledCheckInterval(lockMs: number): number {
  return Math.max(1_000, Math.min(5_000, Math.floor(lockMs / 6)));
}
