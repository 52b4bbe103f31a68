import { describe, expect, it } from '@jest/globals';
import { stalledCheckInterval } from '../src/index.js';

describe('how soon the jobs of a worker that died go back to the queue', () => {
  it('looks for them often enough that they return about WORKER_LOCK_MS after the crash, not three times that', () => {
    // Two checks in a row find a job whose lock lapsed: with the default 30 s lock, checks every 5 s bring
    // it back 30-40 s after the crash (checking every 30 s took up to 90 s).
    expect(stalledCheckInterval(30_000)).toBe(5_000);
    expect(stalledCheckInterval(2_000)).toBe(1_000);
    expect(stalledCheckInterval(600_000)).toBe(5_000);
  });
});
