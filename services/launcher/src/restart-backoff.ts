/**
 * When to restart a service that stopped on its own, as the containers' `restart: unless-stopped` does:
 * the first restart after `initialMs`, each following one after twice the previous delay up to `maxMs`,
 * and back to `initialMs` once the service had stayed up for `resetAfterMs` (a crash after a long quiet
 * run is a new incident, not the next one of a crash loop).
 */
export interface RestartBackoffOptions {
  initialMs: number;
  maxMs: number;
  resetAfterMs: number;
}

export const DEFAULT_RESTART_BACKOFF: RestartBackoffOptions = {
  initialMs: 1_000,
  maxMs: 30_000,
  resetAfterMs: 30_000,
};

export class RestartBackoff {
  private next: number;
  /** Restarts since the service last stayed up for `resetAfterMs`. */
  private streak = 0;

  constructor(private readonly options: RestartBackoffOptions = DEFAULT_RESTART_BACKOFF) {
    this.next = options.initialMs;
  }

  /** The delay before restarting a service that ran for `uptimeMs`, and the restart's number in its streak. */
  afterExit(uptimeMs: number): { delayMs: number; attempt: number } {
    if (uptimeMs >= this.options.resetAfterMs) {
      this.next = this.options.initialMs;
      this.streak = 0;
    }
    const delayMs = this.next;
    this.next = Math.min(this.next * 2, this.options.maxMs);
    this.streak++;
    return { delayMs, attempt: this.streak };
  }
}
