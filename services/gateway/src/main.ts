#!/usr/bin/env node
import { startService } from '@retail/common/nest';
import { createGateway } from './app.js';

/** The gateway: the HTTP API, its OpenAPI document, /metrics and the queue dashboard. */
startService('gateway', async (config, logger) => {
  const app = await createGateway(config, logger);
  await app.listen(config.gatewayPort, config.gatewayHost);
  logger.log(`listening on http://${config.gatewayHost}:${config.gatewayPort} (API docs: /api/docs)`);
});
