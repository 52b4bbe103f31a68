import type { ConsoleLogger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ConfigError, loadConfig, type AppConfig } from '../config/config.js';
import { withCore, type ServiceModule } from './core.module.js';
import { createLogger } from './logger.js';

/**
 * Starts a long-running service the same way for every process: its configuration (a wrong one stops it
 * with exit code 2 and one line per wrong variable), its logger, then `start`; a failure to start is one line
 * on standard error and exit code 1.
 */
export function startService(
  name: string,
  start: (config: AppConfig, logger: ConsoleLogger) => Promise<void>,
): void {
  const run = async () => {
    const config = loadConfig();
    await start(config, createLogger(name, config));
  };
  run().catch((error: unknown) => {
    console.error(`${name} failed to start: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(error instanceof ConfigError ? 2 : 1);
  });
}

/**
 * A worker process: the Nest application context of withCore(`module`) (its workers start with it), stopped cleanly on
 * SIGTERM/SIGINT; `describe` says on one line what it runs with.
 */
export function startWorker(
  name: string,
  module: ServiceModule,
  describe: (config: AppConfig) => string,
): void {
  startService(name, async (config, logger) => {
    const app = await NestFactory.createApplicationContext(withCore(module, config), { logger });
    app.enableShutdownHooks();
    logger.log(`started with ${describe(config)}`);
  });
}
