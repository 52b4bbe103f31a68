#!/usr/bin/env node
import { ConfigError, loadConfig } from '@retail/common';
import { createLogger } from '@retail/common/nest';
import { createGateway } from './app.js';

async function bootstrap(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger('gateway', config);
  const app = await createGateway(config, logger);
  await app.listen(config.gatewayPort, config.gatewayHost);
  logger.log(`listening on http://${config.gatewayHost}:${config.gatewayPort} (API docs: /api/docs)`);
}

bootstrap().catch((error: unknown) => {
  console.error(`gateway failed to start: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(error instanceof ConfigError ? 2 : 1);
});
