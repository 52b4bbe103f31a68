// Shared infrastructure of every service (the shared contracts are @retail/contracts). Modules that load a
// heavy library live behind their own entry points, so that a service loads only what it uses:
//   @retail/common/migrate              runMigrations (node-pg-migrate)
//   @retail/common/progress             progress bars and lines (cli-progress)
//   @retail/common/embedding-providers  createEmbeddingProvider, the OpenAI-compatible provider (openai)
//   @retail/common/nest                 the NestJS core module, logger and injection tokens

// configuration, files
export * from './config/config.js';
export * from './config/paths.js';
// Postgres, Redis
export * from './db/database.js';
export * from './redis/redis.js';
// queues: names, plumbing, job contracts
export * from './queues/queue-names.js';
export * from './queues/queues.js';
export * from './queues/queue-worker.js';
export * from './queues/close-worker.js';
export * from './queues/embedding-jobs.js';
export * from './queues/explanation-jobs.js';
export * from './queues/training-jobs.js';
export * from './queues/refresh-jobs.js';
// embeddings shared by several services: vectors, the local provider, what is stored and what is missing
export * from './embeddings/vectors.js';
export * from './embeddings/embedding-provider.js';
export * from './embeddings/local-embedding.provider.js';
export * from './embeddings/product-embeddings.repository.js';
export * from './embeddings/embedding-backlog.js';
export * from './embeddings/embedding-backlog.repository.js';
// the recommender models the service can serve
export * from './models/recommender-kind.js';
export * from './models/recommender-models.js';
// the explanation cache (writer and reader)
export * from './explanations/explanation-cache.js';
export * from './explanations/explanation-cache.repository.js';
// metrics
export * from './metrics/service-metrics.js';
export * from './metrics/metrics-server.js';
// small utilities and the command-line runner
export * from './util/hash.js';
export * from './util/deadline.js';
export * from './util/outage-log.js';
export * from './util/printable.js';
export * from './cli/command.js';
