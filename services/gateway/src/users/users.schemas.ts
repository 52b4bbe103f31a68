import { z } from 'zod';
import { DEFAULT_TOP_N, MAX_TOP_N } from '@retail/common';

/** Largest customer id Postgres can hold: larger numbers cannot be a customer. */
const MAX_CUSTOMER_ID = 2_147_483_647;

/** A customer number as written in the URL (digits); whether such a customer can exist is customerId's call. */
export const userIdParam = z
  .string()
  .max(40, 'user_id is too long (a customer number has at most 40 digits here)')
  .regex(/^\d+$/, 'user_id must be a customer number (digits only)')
  .meta({ description: 'Customer number, e.g. 17850', example: '17850' });

/** The customer number as a number, or undefined when no customer can have it (0, or beyond Postgres' integer). */
export function customerId(digits: string): number | undefined {
  const id = Number(digits);
  return Number.isInteger(id) && id > 0 && id <= MAX_CUSTOMER_ID ? id : undefined;
}

export const topNQuery = z
  .string()
  .regex(/^\d{1,3}$/, `top_n must be an integer from 1 to ${MAX_TOP_N}`)
  .transform((value) => Number(value))
  .refine((value) => value >= 1 && value <= MAX_TOP_N, `top_n must be an integer from 1 to ${MAX_TOP_N}`)
  .optional()
  .transform((value) => value ?? DEFAULT_TOP_N);

export const listUsersQuery = z.object({
  query: z
    .string()
    .max(10, 'query is a customer number prefix of at most 10 digits')
    .regex(/^\d*$/, 'query must be digits (a customer number prefix)')
    .optional()
    .default(''),
  limit: z
    .string()
    .regex(/^\d{1,4}$/, 'limit must be an integer from 1 to 1000')
    .transform(Number)
    .refine((n) => n >= 1 && n <= 1000, 'limit must be an integer from 1 to 1000')
    .optional()
    .default(50),
  offset: z
    .string()
    .regex(/^\d{1,7}$/, 'offset must be an integer from 0 to 9999999')
    .transform(Number)
    .optional()
    .default(0),
});

export const productIdsQuery = z
  .string({ error: 'product_ids is required: a comma-separated list of product ids' })
  .max(4000, 'product_ids is too long')
  .transform((value) =>
    value
      .split(',')
      .map((id) => id.trim().toUpperCase())
      .filter((id) => id.length > 0),
  )
  .refine(
    (ids) => ids.length >= 1 && ids.length <= MAX_TOP_N,
    `product_ids must list 1 to ${MAX_TOP_N} product ids`,
  )
  .refine(
    (ids) => ids.every((id) => /^[A-Z0-9_ -]{1,32}$/.test(id)),
    'product_ids holds a malformed product id',
  );

export const explanationsUrgencyQuery = z
  .enum(['now', 'background'], { error: 'explanations must be `now` or `background`' })
  .optional()
  .default('background');
