import { z } from 'zod';
import { DEFAULT_TOP_N, MAX_CUSTOMER_DIGITS, MAX_TOP_N } from './rules.js';

/**
 * The identity rules as schemas (validation and the OpenAPI document), built on rules.ts.
 *
 * A customer number as written in a URL: digits, kept as written (so that messages quote it as given,
 * however large). Whether such a customer can exist is customerId's call.
 */
export const customerNumber = z
  .string()
  .max(
    MAX_CUSTOMER_DIGITS,
    `user_id is too long (a customer number has at most ${MAX_CUSTOMER_DIGITS} digits here)`,
  )
  .regex(/^\d+$/, 'user_id must be a customer number (digits only)')
  .meta({ description: 'Customer number (digits), e.g. 17850', example: '17850' });

const TOP_N_MESSAGE = `top_n must be an integer from 1 to ${MAX_TOP_N}`;

/** `top_n` of a query string: 1-100, default 12. */
export const topN = z
  .string()
  .regex(/^\d{1,3}$/, TOP_N_MESSAGE)
  .transform(Number)
  .refine((value) => value >= 1 && value <= MAX_TOP_N, TOP_N_MESSAGE)
  .optional()
  .transform((value) => value ?? DEFAULT_TOP_N)
  .meta({ description: `how many products, 1-${MAX_TOP_N}; default ${DEFAULT_TOP_N}`, example: '12' });
