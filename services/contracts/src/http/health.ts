import { z } from 'zod';
import { errorBody } from './errors.js';

/** `GET /api/health`: the gateway process answers. */
export const liveness = z.object({ status: z.literal('ok') }).meta({ id: 'Liveness' });

/** What one dependency answered a readiness check. */
export const dependencyCheck = z.union([
  z.object({ ok: z.literal(true) }),
  z.object({ ok: z.literal(false), error: z.string() }),
]);

const checks = z.object({
  postgres: dependencyCheck,
  redis: dependencyCheck,
  recommendation: dependencyCheck,
  queues: dependencyCheck,
});

/** `GET /api/health/ready` when every dependency answers. */
export const readiness = z.object({ status: z.literal('ready'), checks }).meta({ id: 'Readiness' });

/** `GET /api/health/ready` when one does not (503): the error shape, plus what each answered. */
export const unreadiness = errorBody
  .extend({ status: z.literal('unavailable'), checks })
  .meta({ id: 'Unreadiness' });

export type DependencyCheck = z.infer<typeof dependencyCheck>;
export type Readiness = z.infer<typeof readiness>;
export type Unreadiness = z.infer<typeof unreadiness>;
