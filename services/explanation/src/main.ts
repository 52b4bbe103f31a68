#!/usr/bin/env node
import 'reflect-metadata';
import { describeConfig } from '@retail/common';
import { startWorker } from '@retail/common/nest';
import { ExplanationModule } from './explanation.module.js';

/** The explanation worker process: explanation jobs -> sentences in the Redis cache, until SIGTERM. */
startWorker('explanation', ExplanationModule, (config) =>
  JSON.stringify({ llm: describeConfig(config).llm, explanations: config.explanations }),
);
