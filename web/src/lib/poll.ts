import { getExplanations, type Explanation } from './api.ts';

export interface PollOptions {
  signal: AbortSignal;
  /** First wait, doubled after every poll that brought nothing new. */
  initialDelayMs?: number;
  maxDelayMs?: number;
}

/** The wait before the next poll: 500 ms, 1 s, 2 s, 4 s, 8 s, 8 s, ... */
export function nextDelay(delayMs: number, maxDelayMs: number): number {
  return Math.min(delayMs * 2, maxDelayMs);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}

/**
 * Polls the explanations of `productIds` until none is pending, handing every answer to `onUpdate`.
 * Waits with exponential backoff (a poll that brought a new sentence keeps the current pace), keeps
 * trying through failed polls (the gateway may be restarting), and stops at once when `signal` aborts
 * (the customer changed or the page went away).
 */
export async function pollExplanations(
  userId: string,
  productIds: string[],
  onUpdate: (explanations: Explanation[]) => void,
  { signal, initialDelayMs = 500, maxDelayMs = 8_000 }: PollOptions,
): Promise<void> {
  let pending = productIds;
  let delay = initialDelayMs;
  while (pending.length > 0) {
    await sleep(delay, signal);
    if (signal.aborted) return;
    let progressed = false;
    try {
      const { explanations } = await getExplanations(userId, pending, signal);
      if (signal.aborted) return;
      onUpdate(explanations);
      const stillPending = explanations
        .filter((explanation) => explanation.explanation_status === 'pending')
        .map((explanation) => explanation.product_id);
      progressed = stillPending.length < pending.length;
      pending = stillPending;
    } catch {
      if (signal.aborted) return;
      // a failed poll is retried on the same schedule
    }
    if (!progressed) delay = nextDelay(delay, maxDelayMs);
  }
}
