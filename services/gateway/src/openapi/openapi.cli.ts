#!/usr/bin/env node
/**
 * Writes the gateway's OpenAPI document without starting a server or connecting to anything (Nest's preview
 * mode: the modules and their metadata, no provider instantiated), with the default configuration, so that
 * the document is the same on every machine: `node services/gateway/dist/openapi/openapi.cli.js <file>`
 * (standard output without a file).
 */
import { writeFileSync } from 'node:fs';
import { NestFactory } from '@nestjs/core';
import { loadConfig } from '@retail/common';
import { withCore } from '@retail/common/nest';
import { gatewayAdapter } from '../app.js';
import { GatewayModule } from '../gateway.module.js';
import { createApiDocument } from './api-document.js';

/** The document as published with the default configuration, as JSON text. */
export async function defaultApiDocument(): Promise<string> {
  const config = loadConfig({});
  const app = await NestFactory.create(withCore(GatewayModule, config), gatewayAdapter(config), {
    preview: true,
    logger: false,
  });
  try {
    return `${JSON.stringify(createApiDocument(app, config), null, 2)}\n`;
  } finally {
    await app.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const file = process.argv[2];
  const text = await defaultApiDocument();
  if (file) writeFileSync(file, text);
  else process.stdout.write(text);
}
