import { Queue, type ConnectionOptions } from 'bullmq';
import type { AppConfig } from '../config/config.js';
import type { OutageLog } from '../util/outage-log.js';
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

/**
 * A producer's (or reader's) handle on a queue. Its connection waits for Redis when Redis is away, as
 * BullMQ does by design: callers on a request path bound their waits (withDeadline). Connection errors go to
 * `outage` (one line when Redis goes away, one when it is back), never to the log once per retry.
 */
export function createQueue<Data>(
  name: QueueName,
  config: Pick<AppConfig, 'redisUrl' | 'queuePrefix'>,
  outage?: OutageLog,
): Queue<Data> {
  const queue = new Queue<Data>(name, { connection: bullConnection(config), prefix: config.queuePrefix });
  queue.on('error', (error: Error) => outage?.failed(error));
  queue.backend.on('ready', () => outage?.ok());
  return queue;
}
