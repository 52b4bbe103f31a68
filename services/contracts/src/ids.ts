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

/** Decimal digits as a query string carries an integer; anything else (`1e2`, ` 5`, `0x10`) is left to fail. */
const DIGITS = /^\d{1,15}$/;

/**
 * An integer query parameter from `min` to `max`, `fallback` when absent. The query string's digits are
 * turned into a number before the integer schema validates them, so the OpenAPI document (the schema's
 * input side) says `type: integer` with its minimum, maximum and default, and a typed client sends numbers.
 * Every refusal has the one message `<name> must be an integer from <min> to <max>`.
 */
export function queryInteger(
  name: string,
  { min, max, fallback, description }: { min: number; max: number; fallback: number; description: string },
) {
  const message = `${name} must be an integer from ${min} to ${max}`;
  return z
    .preprocess(
      (value) => (typeof value === 'string' && DIGITS.test(value) ? Number(value) : value),
      z
        .number({ error: message })
        .int({ error: message })
        .min(min, { error: message })
        .max(max, { error: message })
        .default(fallback),
    )
    .meta({ description, example: fallback });
}

/** `top_n` of a query string: 1-100, default 12. */
export const topN = queryInteger('top_n', {
  min: 1,
  max: MAX_TOP_N,
  fallback: DEFAULT_TOP_N,
  description: 'how many products, best first',
});
