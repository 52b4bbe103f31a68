import { z } from 'zod';
import { MAX_TOP_N, PRODUCT_ID } from '../rules.js';

/** Who wrote a sentence: the chat model, or the grounded template. */
export const explanationSource = z.enum(['llm', 'template']);
/** `pending` (nothing yet), `ready`, or `failed` (the template standing in, or no sentence at all). */
export const explanationStatus = z.enum(['pending', 'ready', 'failed']);

export type ExplanationSource = z.infer<typeof explanationSource>;
export type ExplanationStatus = z.infer<typeof explanationStatus>;

/** The explanation of one recommended product, as every answer carries it. */
export const explanationFields = z.object({
  explanation: z.string().nullable().meta({
    description: 'one sentence; null while pending, and when no sentence could be had (failed)',
    example: 'It matches the hanging hearts and lanterns you bought.',
  }),
  explanation_status: explanationStatus,
  // A union rather than .nullable(): OpenAPI 3.0 wants null among an enum's values to allow it.
  explanation_source: z.union([explanationSource, z.null()]),
});

export const explanation = z.object({ product_id: z.string() }).extend(explanationFields.shape);

/** `GET /api/users/{user_id}/recommendations/explanations?product_ids=a,b`: what the page polls. */
export const explanationsQuery = z.object({
  product_ids: z
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
    .refine((ids) => ids.every((id) => PRODUCT_ID.test(id)), 'product_ids holds a malformed product id')
    .meta({ description: 'comma-separated product ids', example: '22632,84029E' }),
});

export const explanationsResponse = z
  .object({ user_id: z.string(), explanations: z.array(explanation) })
  .meta({ id: 'Explanations' });

export type Explanation = z.infer<typeof explanation>;
export type ExplanationsResponse = z.infer<typeof explanationsResponse>;
