import type { Worker } from 'bullmq';
import { workerRedisAway } from './queue-worker.js';

/**
 * Stops a worker for a shutdown: jobs in progress get `graceMs` to finish; after that they are cancelled
 * (their processors see the abort signal), and a cancelled job goes straight back to the front of its
 * queue, to be taken by the next worker (createQueueWorker). A processor that ignores the signal keeps
 * its job until it returns; a process killed outright loses nothing either: its jobs return to the queue
 * when their lock lapses (WORKER_LOCK_MS). With Redis away nothing can be handed back: the worker is closed
 * at once (a graceful close would wait for Redis), and its jobs return when their locks lapse.
 */
export async function closeWorker(worker: Worker | undefined, graceMs = 8_000): Promise<void> {
  if (!worker) return;
  if (workerRedisAway(worker)) {
    await worker.close(true);
    return;
  }
  const timer = setTimeout(() => worker.cancelAllJobs('the worker is shutting down'), graceMs);
  try {
    await worker.close();
  } finally {
    clearTimeout(timer);
  }
}
