import { getExplanations, type Explanation } from './api.ts';

export interface PollOptions {
  signal: AbortSignal;
  /** The wait between two polls. */
  intervalMs?: number;
  /**
   * How long to poll at most. The shop answers every sentence within a few seconds (the model's, the
   * template standing in, or `failed` when no writer answers); this only guards against a shop that
   * cannot say (Redis down), so that the page never shows a spinner for minutes.
   */
  maxWaitMs?: number;
}

/** What polling ended with: the product ids still pending when it gave up (empty when all were answered). */
export interface PollResult {
  gaveUp: string[];
}

/** Waits `ms`, or less when `signal` aborts (it never rejects). */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
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
 * A person is waiting, so it polls at a steady pace (every 500 ms: the sentences take about a second),
 * keeps going through failed polls (the gateway may be restarting), stops at once when `signal` aborts
 * (the customer changed or the page went away), and gives up after `maxWaitMs`.
 */
export async function pollExplanations(
  userId: string,
  productIds: string[],
  onUpdate: (explanations: Explanation[]) => void,
  { signal, intervalMs = 500, maxWaitMs = 20_000 }: PollOptions,
): Promise<PollResult> {
  let pending = productIds;
  const giveUpAt = Date.now() + maxWaitMs;
  while (pending.length > 0) {
    if (Date.now() + intervalMs > giveUpAt) return { gaveUp: pending };
    await sleep(intervalMs, signal);
    if (signal.aborted) return { gaveUp: [] };
    try {
      const { explanations } = await getExplanations(userId, pending, signal);
      if (signal.aborted) return { gaveUp: [] };
      onUpdate(explanations);
      pending = explanations
        .filter((explanation) => explanation.explanation_status === 'pending')
        .map((explanation) => explanation.product_id);
    } catch {
      if (signal.aborted) return { gaveUp: [] };
      // a failed poll is retried on the same schedule
    }
  }
  return { gaveUp: [] };
}
