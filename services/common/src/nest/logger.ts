import { ConsoleLogger } from '@nestjs/common';
import type { AppConfig } from '../config/config.js';

/** Human-readable logs in development, one JSON object per line in production (for log collectors). */
export function createLogger(context: string, config: Pick<AppConfig, 'nodeEnv'>): ConsoleLogger {
  return new ConsoleLogger(context, {
    json: config.nodeEnv === 'production',
    colors: config.nodeEnv !== 'production' && process.stdout.isTTY,
    timestamp: true,
  });
}
