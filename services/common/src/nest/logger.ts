import { ConsoleLogger, type LogLevel } from '@nestjs/common';
import type { AppConfig } from '../config/config.js';

const LEVELS: LogLevel[] = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'];

/**
 * Human-readable logs in development (coloured on a terminal only), one JSON object per line in
 * production (for log collectors). LOG_LEVEL (default `log`) sets the most detailed level shown.
 */
export function createLogger(
  context: string,
  config: Pick<AppConfig, 'nodeEnv' | 'logLevel'>,
): ConsoleLogger {
  return new ConsoleLogger(context, {
    json: config.nodeEnv === 'production',
    colors: config.nodeEnv !== 'production' && Boolean(process.stdout.isTTY),
    timestamp: true,
    logLevels: LEVELS.slice(0, LEVELS.indexOf(config.logLevel) + 1),
  });
}
