#!/usr/bin/env node
import 'reflect-metadata';
import { describeConfig } from '@retail/common';
import { startWorker } from '@retail/common/nest';
import { EmbedderModule } from './embedder.module.js';

/** The embedder worker process: consumes the `embeddings` queue until SIGTERM/SIGINT. */
startWorker('embedder', EmbedderModule, (config) => JSON.stringify(describeConfig(config).embedding));
