export interface OutageLogger {
  log(message: string): void;
  warn(message: string): void;
}

/**
 * One line when a dependency goes away and one when it is back, instead of one per failed call or
 * reconnection attempt (with the reason, and how long it was away).
 */
export class OutageLog {
  private downSince: number | undefined;

  constructor(
    private readonly what: string,
    private readonly logger: OutageLogger,
  ) {}

  get down(): boolean {
    return this.downSince !== undefined;
  }

  failed(error: unknown): void {
    if (this.downSince !== undefined) return;
    this.downSince = Date.now();
    const reason = error instanceof Error ? error.message : String(error);
    this.logger.warn(`${this.what} is unavailable: ${reason}`);
  }

  ok(): void {
    if (this.downSince === undefined) return;
    const seconds = ((Date.now() - this.downSince) / 1000).toFixed(1);
    this.downSince = undefined;
    this.logger.log(`${this.what} is back after ${seconds} s`);
  }
}
