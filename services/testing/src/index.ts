export * from './test-env.js';
export * from './database.js';
export * from './cli.js';
export * from './redis.js';
export * from './fake-openai-server.js';
export * from './stores.js';
export * from './logs.js';
export * from './metrics.js';
