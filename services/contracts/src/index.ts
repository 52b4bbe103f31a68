export * from './rules.js';
export * from './ids.js';
export * from './http/errors.js';
export * from './http/users.js';
export * from './http/explanations.js';
export * from './http/recommendations.js';
export * from './rpc.js';
export * from './http/health.js';
