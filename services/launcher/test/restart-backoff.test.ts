import { describe, expect, it } from '@jest/globals';
import { RestartBackoff } from '../src/restart-backoff.js';

describe('the restart backoff of `npm start`', () => {
  const options = { initialMs: 1_000, maxMs: 8_000, resetAfterMs: 30_000 };

  it('doubles the delay while a service keeps stopping soon after its start, up to the maximum', () => {
    const backoff = new RestartBackoff(options);
    const delays = Array.from({ length: 6 }, () => backoff.afterExit(2_000));
    expect(delays).toEqual([
      { delayMs: 1_000, attempt: 1 },
      { delayMs: 2_000, attempt: 2 },
      { delayMs: 4_000, attempt: 3 },
      { delayMs: 8_000, attempt: 4 },
      { delayMs: 8_000, attempt: 5 },
      { delayMs: 8_000, attempt: 6 },
    ]);
  });

  it('starts over once the service had stayed up for a while', () => {
    const backoff = new RestartBackoff(options);
    backoff.afterExit(500);
    backoff.afterExit(500);
    expect(backoff.afterExit(29_999)).toEqual({ delayMs: 4_000, attempt: 3 });
    expect(backoff.afterExit(30_000)).toEqual({ delayMs: 1_000, attempt: 1 });
    expect(backoff.afterExit(100)).toEqual({ delayMs: 2_000, attempt: 2 });
  });
});
