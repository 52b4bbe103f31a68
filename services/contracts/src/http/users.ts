import { z } from 'zod';

const LIMIT_MESSAGE = 'limit must be an integer from 1 to 1000';

/** `GET /api/users?query=&limit=&offset=` */
export const listUsersQuery = z.object({
  query: z
    .string()
    .max(10, 'query is a customer number prefix of at most 10 digits')
    .regex(/^\d*$/, 'query must be digits (a customer number prefix)')
    .optional()
    .default('')
    .meta({ description: 'customer number prefix (digits)', example: '178' }),
  limit: z
    .string()
    .regex(/^\d{1,4}$/, LIMIT_MESSAGE)
    .transform(Number)
    .refine((n) => n >= 1 && n <= 1000, LIMIT_MESSAGE)
    .optional()
    .default(50)
    .meta({ description: 'how many users, 1-1000; default 50' }),
  offset: z
    .string()
    .regex(/^\d{1,7}$/, 'offset must be an integer from 0 to 9999999')
    .transform(Number)
    .optional()
    .default(0)
    .meta({ description: 'how many users to skip; default 0' }),
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

export const usersPage = z
  .object({
    total: z.number().int().meta({ description: 'users matching the query', example: 4339 }),
    users: z.array(userSummary),
  })
  .meta({ id: 'UsersPage' });

export type UserSummary = z.infer<typeof userSummary>;
export type UsersPage = z.infer<typeof usersPage>;

export const purchase = z.object({
  product_id: z.string().meta({ example: '85123A' }),
  description: z.string().meta({ example: 'WHITE HANGING HEART T-LIGHT HOLDER' }),
  times_bought: z.number().int().meta({ description: 'distinct invoices with the product', example: 34 }),
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
