import { timingSafeEqual } from 'node:crypto';
import type { Logger } from '@nestjs/common';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter as BullBoardFastifyAdapter } from '@bull-board/fastify';
import basicAuth from '@fastify/basic-auth';
import type { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import type { AppConfig } from '@retail/common';

export const DASHBOARD_PATH = '/admin/queues';
/** The password used when none is set, outside production only. */
export const DEVELOPMENT_PASSWORD = 'admin';
const WEAK_PASSWORDS = new Set(['', 'admin', 'password', 'changeme', 'secret', 'queues']);

function same(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

const isLoopback = (host: string) => /^(127\.\d+\.\d+\.\d+|::1|localhost)$/.test(host);

/**
 * The operators' queue dashboard (bull-board) at /admin/queues, behind HTTP basic authentication with
 * QUEUE_DASHBOARD_USER / QUEUE_DASHBOARD_PASSWORD. In production it refuses a missing or default password:
 * the dashboard is then not mounted (the API keeps running) and the log says why, in one line: at `log`
 * level when no password is set (closed is the production default, not a fault), as a warning when a
 * default password was refused. Read-only
 * (QUEUE_DASHBOARD_READ_ONLY, the default in production) it shows everything and changes nothing: every
 * request but GET is refused with 405. The development password never opens a writable dashboard to the
 * network: with it, a gateway listening beyond loopback gets a read-only dashboard.
 */
export async function mountQueueDashboard(
  fastify: FastifyInstance,
  queues: Queue[],
  config: AppConfig,
  logger: Logger,
): Promise<boolean> {
  const { user } = config.dashboard;
  let password = config.dashboard.password ?? '';
  if (config.nodeEnv === 'production' && WEAK_PASSWORDS.has(password)) {
    const message = `queue dashboard disabled: set QUEUE_DASHBOARD_PASSWORD to a real password to open ${DASHBOARD_PATH} (NODE_ENV=production refuses ${
      password ? 'a default password' : 'no password'
    })`;
    if (password) logger.warn(message);
    else logger.log(message);
    return false;
  }
  let readOnly = config.dashboard.readOnly;
  if (!password) {
    password = DEVELOPMENT_PASSWORD;
    logger.warn(
      `queue dashboard: user "${user}" with the development password; set QUEUE_DASHBOARD_PASSWORD`,
    );
    if (!readOnly && !isLoopback(config.gatewayHost)) {
      readOnly = true;
      logger.warn(
        `queue dashboard read-only: the development password would open it to the network (GATEWAY_HOST=` +
          `${config.gatewayHost}); set QUEUE_DASHBOARD_PASSWORD to change jobs from it`,
      );
    }
  }

  const board = new BullBoardFastifyAdapter();
  board.setBasePath(DASHBOARD_PATH);
  createBullBoard({
    queues: queues.map((queue) => new BullMQAdapter(queue, { readOnlyMode: readOnly })),
    serverAdapter: board,
  });
  await fastify.register(async (scope) => {
    await scope.register(basicAuth, {
      authenticate: { realm: 'retail queues' },
      validate: (username, given, _request, _reply, done) =>
        done(same(username, user) && same(given, password) ? undefined : new Error('wrong user or password')),
    });
    // A refused login answers here, like the rest of the API (JSON, no internals): bull-board's own
    // error handler would otherwise turn it into an opaque error object.
    scope.addHook('onRequest', (request, reply, done) => {
      scope.basicAuth(request, reply, (error?: Error) => {
        if (!error && readOnly && request.method !== 'GET' && request.method !== 'HEAD') {
          void reply.code(405).header('allow', 'GET, HEAD').send({
            statusCode: 405,
            error: 'Method Not Allowed',
            message: 'the queue dashboard is read-only (QUEUE_DASHBOARD_READ_ONLY)',
          });
          return;
        }
        if (!error) return done();
        void reply.code(401).header('www-authenticate', 'Basic realm="retail queues", charset="UTF-8"').send({
          statusCode: 401,
          error: 'Unauthorized',
          message: 'the queue dashboard needs its user and password',
        });
      });
    });
    await scope.register(board.registerPlugin(), { prefix: DASHBOARD_PATH });
  });
  logger.log(
    `queue dashboard at ${DASHBOARD_PATH}, ${readOnly ? 'read-only' : 'read-write'}, user "${user}"`,
  );
  return true;
}
