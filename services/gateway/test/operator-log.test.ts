import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { loadConfig, type Database, type RedisClient } from '@retail/common';
import {
  closeTestStores,
  freePort,
  openTestStores,
  recordLogs,
  startProcess,
  stop,
  type LogRecorder,
  type RunningProcess,
} from '@retail/testing';
import { createGateway } from '../src/app.js';
import { loadCatalog } from './stack.js';

/**
 * What the gateway's log tells an operator: one clear line per state change, at a level that matches
 * (a closed dashboard in production is the default, not an error; a recommendation service that goes
 * away is one warning and its return one line, however many calls fail meanwhile), never a stack trace.
 */

const STACK_FRAME = /\n\s+at /;

let db: Database;
let redis: RedisClient;

beforeAll(async () => {
  ({ db, redis } = await openTestStores());
  await loadCatalog('small.csv');
});

afterAll(async () => {
  await closeTestStores({ db, redis });
});

async function withGateway(
  env: Record<string, string | undefined>,
  run: (url: string, log: LogRecorder) => Promise<void>,
): Promise<void> {
  const log = recordLogs();
  const config = loadConfig({ ...process.env, RECOMMENDATION_TIMEOUT_MS: '2000', ...env });
  const gateway: NestFastifyApplication = await createGateway(config, log);
  await gateway.listen(0, '127.0.0.1');
  try {
    await run(await gateway.getUrl(), log);
  } finally {
    await gateway.close();
  }
}

describe('the production gateway without a dashboard password', () => {
  it('says once, at log level, that the dashboard is closed; a refused default password is a warning', async () => {
    for (const [password, level] of [
      [undefined, 'log'],
      ['admin', 'warn'],
    ] as const) {
      await withGateway({ NODE_ENV: 'production', QUEUE_DASHBOARD_PASSWORD: password }, async (url, log) => {
        expect((await fetch(`${url}/admin/queues`)).status).toBe(404);
        expect(log.about(/queue dashboard/)).toEqual([
          expect.objectContaining({
            level,
            message: expect.stringContaining('queue dashboard disabled: set QUEUE_DASHBOARD_PASSWORD'),
          }),
        ]);
        expect(log.at('error')).toEqual([]);
      });
    }
  });
});

describe('the recommendation service going away and coming back', () => {
  let recommendation: RunningProcess | undefined;
  const start = async (port: number) => {
    recommendation = startProcess('services/recommendation/dist/main.js', [], {
      RECOMMENDATION_PORT: String(port),
      METRICS_PORT: '0',
    });
    await recommendation.waitFor(/listening on tcp/);
  };
  afterAll(async () => {
    await stop(recommendation, 'SIGKILL');
  });

  it('is one warning when it goes and one line when it is back, whatever the number of failed calls', async () => {
    const port = await freePort();
    await start(port);
    await withGateway({ RECOMMENDATION_PORT: String(port) }, async (url, log) => {
      expect((await fetch(`${url}/api/users/17850/recommendations`)).status).toBe(200);
      expect(log.about(/recommendation service/)).toEqual([]);

      await stop(recommendation, 'SIGKILL');
      const failed = [];
      for (let i = 0; i < 8; i++) failed.push((await fetch(`${url}/api/users/17850/recommendations`)).status);
      failed.push((await fetch(`${url}/api/health/ready`)).status);
      expect(failed).toEqual(Array.from({ length: 9 }, () => 503));

      await start(port);
      expect((await fetch(`${url}/api/users/17850/recommendations`)).status).toBe(200);
      expect((await fetch(`${url}/api/health/ready`)).status).toBe(200);

      expect(log.about(/recommendation service/)).toEqual([
        expect.objectContaining({
          level: 'warn',
          message: expect.stringMatching(
            /^the recommendation service at 127\.0\.0\.1:\d+ is unavailable: .+/,
          ),
        }),
        expect.objectContaining({
          level: 'log',
          message: expect.stringMatching(/^the recommendation service at .+ is back after [\d.]+ s/),
        }),
      ]);
      expect([...log.at('error'), ...log.about(STACK_FRAME)]).toEqual([]);
    });
  });

  it('logs an unresolvable host (getaddrinfo ENOTFOUND, as in a container) once, without a stack', async () => {
    await withGateway({ RECOMMENDATION_HOST: 'recommendation.invalid' }, async (url, log) => {
      for (let i = 0; i < 5; i++) {
        expect((await fetch(`${url}/api/users/17850/recommendations`)).status).toBe(503);
      }
      expect(log.about(/recommendation service/)).toEqual([
        expect.objectContaining({
          level: 'warn',
          message: expect.stringContaining('is unavailable: getaddrinfo ENOTFOUND recommendation.invalid'),
        }),
      ]);
      expect([...log.at('error'), ...log.about(STACK_FRAME)]).toEqual([]);
    });
  });
});
