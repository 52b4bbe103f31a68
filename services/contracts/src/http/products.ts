import { z } from 'zod';
import { PRODUCT_ID } from '../rules.js';
import { topN } from '../ids.js';

/** A product id in a path: a StockCode (case and surrounding spaces do not matter; stored upper case). */
export const productIdParam = z
  .string()
  .transform((value) => value.trim().toUpperCase())
  .refine((value) => PRODUCT_ID.test(value), {
    error: 'product_id must be a StockCode: letters, digits, `_`, `-` and spaces, 1-32 characters',
  })
  .meta({ description: 'the product (StockCode)', example: '85123A' });

/** `PUT /api/products/{product_id}` */
export const productRequest = z
  .object({
    description: z
      .string()
      .trim()
      .min(1, 'description must not be empty')
      .max(500, 'description has at most 500 characters')
      .meta({ example: 'WHITE HANGING HEART T-LIGHT HOLDER' }),
    unit_price: z
      .number({ error: 'unit_price must be a number' })
      .min(0, 'unit_price must not be negative')
      .max(1e9)
      .optional()
      .meta({ description: 'GBP; kept as it is when absent', example: 2.55 }),
  })
  .strict()
  .meta({ id: 'ProductRequest' });

export type ProductRequest = z.infer<typeof productRequest>;

export const product = z
  .object({
    product_id: z.string().meta({ example: '85123A' }),
    description: z.string(),
    unit_price: z.number().nullable().meta({ description: 'GBP, the latest price known; null when none is' }),
    is_merchandise: z.boolean().meta({
      description: 'false for postage, fees and the like: never recommended',
    }),
    retired: z
      .boolean()
      .meta({ description: 'taken out of the catalog: never recommended, purchase history kept' }),
    created: z.boolean().meta({ description: 'true when this request added the product' }),
  })
  .meta({ id: 'Product' });

export type Product = z.infer<typeof product>;

/** `GET /api/products/{product_id}/similar?top_n=` */
export const similarQuery = z.object({ top_n: topN });

export const similarProduct = z.object({
  product_id: z.string(),
  description: z.string(),
  score: z.number().meta({ description: 'cosine similarity of the descriptions, -1..1' }),
  unit_price: z.number().nullable(),
});

export const similarProducts = z
  .object({
    product_id: z.string(),
    model: z.string().meta({ description: 'the description model whose vectors were compared' }),
    products: z.array(similarProduct),
    reason: z.string().optional().meta({ description: 'why the list is empty, when it is' }),
  })
  .meta({ id: 'SimilarProducts' });

export type SimilarProducts = z.infer<typeof similarProducts>;

/** `DELETE /api/users/{user_id}` */
export const userErased = z
  .object({
    user_id: z.string(),
    erased: z.literal(true),
  })
  .meta({ id: 'UserErased' });

export type UserErased = z.infer<typeof userErased>;
