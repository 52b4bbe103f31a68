import { Queue, type ConnectionOptions } from 'bullmq';
import type { AppConfig } from '../config/config.js';
import type { QueueName } from './queue-names.js';

/** BullMQ connection options for REDIS_URL (BullMQ opens and owns its own connections). */
export function bullConnection(config: Pick<AppConfig, 'redisUrl'>): ConnectionOptions {
  const url = new URL(config.redisUrl);
  const db = url.pathname.length > 1 ? Number(url.pathname.slice(1)) : 0;
  return {
    host: url.hostname,
    port: url.port ? Number(url.port) : 6379,
    username: url.username ? decodeURIComponent(url.username) : undefined,
    password: url.password ? decodeURIComponent(url.password) : undefined,
    db,
    tls: url.protocol === 'rediss:' ? {} : undefined,
    maxRetriesPerRequest: null,
  };
}

export function createQueue<Data>(
  name: QueueName,
  config: Pick<AppConfig, 'redisUrl' | 'queuePrefix'>,
): Queue<Data> {
  return new Queue<Data>(name, { connection: bullConnection(config), prefix: config.queuePrefix });
}
