#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { FakeOpenAiServer } from './fake-openai-server.js';

/**
 * The fake OpenAI-compatible server as its own process, for benchmarks (so that its JSON work does not
 * share the event loop of the service being measured). Prints `listening <baseUrl>`; stops on SIGTERM.
 */
const { values } = parseArgs({ options: { 'delay-ms': { type: 'string', default: '0' } } });
const server = await FakeOpenAiServer.start({ delayMs: Number(values['delay-ms']) });
console.log(`listening ${server.baseUrl}`);
process.on('SIGTERM', () => void server.close().then(() => process.exit(0)));
