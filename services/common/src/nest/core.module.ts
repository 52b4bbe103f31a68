import {
  Global,
  Inject,
  Injectable,
  Module,
  type DynamicModule,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { loadConfig, type AppConfig } from '../config/config.js';
import { connectDatabase, type Database } from '../db/database.js';
import { createRedis, type RedisClient } from '../redis/redis.js';
import { APP_CONFIG, DATABASE, REDIS } from './tokens.js';

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

/**
 * The configuration, the Postgres pool and a Redis client for request paths, for every NestJS service.
 * All are closed when the application shuts down.
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
          useFactory: (config: AppConfig) => createRedis(config.redisUrl, { name: options.applicationName }),
        },
        ConnectionsCloser,
      ],
      exports: [APP_CONFIG, DATABASE, REDIS],
    };
  }
}
