import { z } from 'zod';
import { queryInteger } from '../ids.js';

/** `GET /api/users?query=&limit=&offset=` */
export const listUsersQuery = z.object({
  query: z
    .string()
    .max(10, 'query is a customer number prefix of at most 10 digits')
    .regex(/^\d*$/, 'query must be digits (a customer number prefix)')
    .optional()
    .default('')
    .meta({ description: 'customer number prefix (digits)', example: '178' }),
  limit: queryInteger('limit', { min: 1, max: 1000, fallback: 50, description: 'how many users' }),
  offset: queryInteger('offset', {
    min: 0,
    max: 9_999_999,
    fallback: 0,
    description: 'how many users to skip (the `next_offset` of the previous page)',
  }),
});

export type ListUsersQuery = z.output<typeof listUsersQuery>;

export const userSummary = z.object({
  user_id: z.string().meta({ example: '17850' }),
  products_bought: z
    .number()
    .int()
    .meta({ description: 'distinct merchandise products bought', example: 21 }),
  country: z.string().meta({ example: 'United Kingdom' }),
});

/** One page of users, as the recommendation service answers it. */
export const usersList = z.object({
  total: z.number().int().min(0).meta({ description: 'users matching the query', example: 4339 }),
  users: z.array(userSummary),
});

/** The answer: a page of users, and where the next page starts. */
export const usersPage = usersList
  .extend({
    next_offset: z.number().int().min(0).nullable().meta({
      description:
        'the `offset` of the next page (also in the `Link` header, `rel="next"`); null on the last page',
      example: 50,
    }),
  })
  .meta({ id: 'UsersPage' });

export type UserSummary = z.infer<typeof userSummary>;
export type UsersList = z.infer<typeof usersList>;
export type UsersPage = z.infer<typeof usersPage>;

export const purchase = z.object({
  product_id: z.string().meta({ example: '85123A' }),
  description: z.string().meta({ example: 'WHITE HANGING HEART T-LIGHT HOLDER' }),
  times_bought: z.number().int().meta({ description: 'distinct invoices with the product', example: 34 }),
  unit_price: z.number().nullable().meta({
    description: 'GBP, the latest price the data has for the product; null when none',
    example: 2.55,
  }),
  last_purchased_at: z
    .string()
    .meta({ description: 'shop-local time, ISO 8601 without zone', example: '2011-02-10T14:38:00' }),
});

/** `GET /api/users/{user_id}/purchases`: the merchandise the user bought, most recent first. */
export const purchasesResponse = z
  .object({ user_id: z.string(), purchases: z.array(purchase) })
  .meta({ id: 'Purchases' });

export type Purchase = z.infer<typeof purchase>;
export type PurchasesResponse = z.infer<typeof purchasesResponse>;
