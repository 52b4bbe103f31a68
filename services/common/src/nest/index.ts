export * from './tokens.js';
export * from './core.module.js';
export * from './logger.js';
export * from './corked-json-socket.js';
export * from './start-service.js';
export * from './queue-consumer.js';
