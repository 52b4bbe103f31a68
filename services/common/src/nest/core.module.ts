import type { Server } from 'node:http';
import {
  Global,
  Inject,
  Injectable,
  Logger,
  Module,
  type DynamicModule,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
  type Type,
} from '@nestjs/common';
import { loadConfig, type AppConfig } from '../config/config.js';
import { connectDatabase, type Database } from '../db/database.js';
import { startMetricsServer } from '../metrics/metrics-server.js';
import { ServiceMetrics } from '../metrics/service-metrics.js';
import { createRedis, type RedisClient } from '../redis/redis.js';
import { withDeadline } from '../util/deadline.js';
import { APP_CONFIG, DATABASE, METRICS, REDIS } from './tokens.js';

/** How long a health check waits for a dependency before calling it down. */
const HEALTH_DEADLINE_MS = 1_000;

export interface CoreModuleOptions {
  /** Shown in pg_stat_activity and CLIENT LIST. */
  applicationName: string;
  /** Defaults to loadConfig() (the environment). */
  config?: AppConfig;
  poolSize?: number;
}

@Injectable()
class ConnectionsCloser implements OnApplicationShutdown {
  constructor(
    @Inject(DATABASE) private readonly db: Database,
    @Inject(REDIS) private readonly redis: RedisClient,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    await Promise.allSettled([this.db.end(), this.redis.quit()]);
  }
}

/** A worker's /metrics and /health over HTTP on METRICS_PORT (when set). */
@Injectable()
class MetricsEndpoint implements OnApplicationBootstrap, OnApplicationShutdown {
  private server: Server | undefined;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(METRICS) private readonly metrics: ServiceMetrics,
    @Inject(DATABASE) private readonly db: Database,
    @Inject(REDIS) private readonly redis: RedisClient,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (this.config.metricsPort <= 0) return;
    this.server = await startMetricsServer(this.config.metricsPort, this.metrics, async () => {
      const checks = await Promise.allSettled([
        withDeadline(this.db.query('SELECT 1'), HEALTH_DEADLINE_MS, 'Postgres'),
        withDeadline(this.redis.ping(), HEALTH_DEADLINE_MS, 'Redis'),
      ]);
      return checks.every((check) => check.status === 'fulfilled');
    });
    new Logger('Metrics').log(`/metrics and /health on port ${this.config.metricsPort}`);
  }

  async onApplicationShutdown(): Promise<void> {
    const server = this.server;
    if (server) await new Promise((resolve) => server.close(resolve));
  }
}

/**
 * The configuration, the Postgres pool, a Redis client for request paths and the service's metrics, for
 * every NestJS service. All are closed when the application shuts down.
 */
@Global()
@Module({})
export class CoreModule {
  static forRoot(options: CoreModuleOptions): DynamicModule {
    return {
      module: CoreModule,
      global: true,
      providers: [
        { provide: APP_CONFIG, useFactory: () => options.config ?? loadConfig() },
        {
          provide: DATABASE,
          inject: [APP_CONFIG],
          useFactory: (config: AppConfig) =>
            connectDatabase(config.databaseUrl, {
              max: options.poolSize ?? 10,
              applicationName: options.applicationName,
            }),
        },
        {
          provide: REDIS,
          inject: [APP_CONFIG],
          useFactory: (config: AppConfig) =>
            createRedis(config.redisUrl, { name: options.applicationName, logger: new Logger('Redis') }),
        },
        { provide: METRICS, useValue: new ServiceMetrics(options.applicationName) },
        ConnectionsCloser,
        MetricsEndpoint,
      ],
      exports: [APP_CONFIG, DATABASE, REDIS, METRICS],
    };
  }
}

/** A service's module: its own parts in its @Module metadata, and how its process connects (`core`). */
export interface ServiceModule extends Type {
  readonly core: Omit<CoreModuleOptions, 'config'>;
}

/**
 * The root module of a service process: the service's module with CoreModule (configuration, database,
 * Redis, metrics) made of its `core` settings and `config` (default: the environment). Nest adds these
 * imports to the module's own metadata.
 */
export function withCore(module: ServiceModule, config?: AppConfig): DynamicModule {
  return { module, imports: [CoreModule.forRoot({ ...module.core, config })] };
}
