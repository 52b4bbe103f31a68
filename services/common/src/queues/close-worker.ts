import type { Worker } from 'bullmq';

/**
 * Stops a worker for a shutdown: jobs in progress get `graceMs` to finish; after that the worker lets go
 * of them without completing them, and they return to the queue when their lock lapses (WORKER_LOCK_MS),
 * to be taken by the next worker. Nothing is lost either way.
 */
export async function closeWorker(worker: Worker | undefined, graceMs = 8_000): Promise<void> {
  if (!worker) return;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), graceMs);
  });
  const closed = worker.close().then(() => 'closed' as const);
  if ((await Promise.race([closed, deadline])) === 'late') await worker.close(true);
  clearTimeout(timer);
}
