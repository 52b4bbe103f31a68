import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { pollExplanations } from '../src/lib/poll.ts';
import type { Explanation } from '../src/lib/api.ts';

/**
 * The page's polling rule, against a scripted shop: polls only what is pending, every interval, stops when
 * nothing is, when the customer changes (abort), or after maxWaitMs (what is still pending is handed back).
 */
type Status = Explanation['explanation_status'];
let answers: Record<string, Status[]>;
let polls: string[][];
const realFetch = globalThis.fetch;

// The page's client calls its own origin.
Object.defineProperty(globalThis, 'location', { value: new URL('http://shop.test/retail_shop') });

beforeEach(() => {
  polls = [];
  globalThis.fetch = ((input: string | URL | Request) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const ids = url.searchParams.get('product_ids')!.split(',');
    polls.push(ids);
    const explanations = ids.map((product_id) => {
      const status = answers[product_id]!.shift() ?? 'pending';
      return {
        product_id,
        explanation_status: status,
        explanation: status === 'pending' ? null : `About ${product_id}.`,
        explanation_source: status === 'pending' ? null : 'template',
      };
    });
    return Promise.resolve(
      new Response(JSON.stringify({ user_id: '17850', explanations }), {
        headers: { 'content-type': 'application/json' },
      }),
    );
  }) as typeof fetch;
});

afterEach(() => {
  globalThis.fetch = realFetch;
});

describe('pollExplanations', () => {
  it('asks only for what is still pending, and stops when nothing is', async () => {
    answers = { A: ['pending', 'ready'], B: ['ready'], C: ['pending', 'pending', 'failed'] };
    const seen: Explanation[] = [];
    const result = await pollExplanations('17850', ['A', 'B', 'C'], (e) => seen.push(...e), {
      signal: new AbortController().signal,
      intervalMs: 5,
    });
    expect(polls).toEqual([['A', 'B', 'C'], ['A', 'C'], ['C']]);
    expect(result).toEqual({ gaveUp: [] });
    expect(
      seen
        .filter((e) => e.explanation_status !== 'pending')
        .map((e) => e.product_id)
        .sort(),
    ).toEqual(['A', 'B', 'C']);
  });

  it('gives up after maxWaitMs and hands back what is still pending', async () => {
    answers = { A: ['ready'], B: [] };
    const result = await pollExplanations('17850', ['A', 'B'], () => undefined, {
      signal: new AbortController().signal,
      intervalMs: 5,
      maxWaitMs: 60,
    });
    expect(result).toEqual({ gaveUp: ['B'] });
    expect(polls.length).toBeGreaterThan(1);
  });

  it('stops at once when the customer changes', async () => {
    answers = { A: [] };
    const controller = new AbortController();
    const done = pollExplanations('17850', ['A'], () => undefined, {
      signal: controller.signal,
      intervalMs: 50,
    });
    controller.abort();
    expect(await done).toEqual({ gaveUp: [] });
    expect(polls).toEqual([]);
  });
});
