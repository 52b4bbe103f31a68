import { z } from 'zod';
import { topN } from '../ids.js';
import { explanationFields } from './explanations.js';

/** `GET /api/users/{user_id}/recommendations?top_n=12&explanations=now` */
export const recommendationsQuery = z.object({
  top_n: topN,
  explanations: z
    .enum(['now', 'background'], { error: 'explanations must be `now` or `background`' })
    .optional()
    .default('background')
    .meta({
      description:
        '`now` when a person waits for the explanations (they are written before any background work); ' +
        'default `background`',
    }),
});

export type RecommendationsQuery = z.output<typeof recommendationsQuery>;

/** What the picks are based on: `description`, `copurchase` or `hybrid` (RECOMMENDER_MODEL's kinds). */
export const recommendationBasis = z.enum(['description', 'copurchase', 'hybrid']);

/** A ranked product, as the recommendation service answers it. */
export const rankedProduct = z.object({
  product_id: z.string(),
  description: z.string(),
  score: z.number().meta({
    description:
      'description model: cosine similarity, -1..1; co-purchase and hybrid: inner product, higher is better',
  }),
  unit_price: z.number().nullable().meta({
    description: 'GBP, the latest price the data has for the product; null when none',
    example: 2.55,
  }),
});

/** A user's ranked list, as the recommendation service answers it (the explanations come from the cache). */
export const rankedList = z.object({
  user_id: z.string(),
  model: z.string().meta({
    description: 'the model that ranked this list',
    example: 'hybrid-v1+local-hashed-ngrams-v1',
  }),
  basis: recommendationBasis.meta({
    description: 'what the picks are based on: product descriptions, what customers bought together, or both',
  }),
  recommendations: z.array(rankedProduct),
  model_version: z
    .number()
    .int()
    .min(0)
    .meta({
      description:
        'the version of the model the list was computed from (a reading of the change clock that every change of ' +
        'vectors, catalog or purchases stamps; 0 while the model has no vector)',
    }),
  refreshing: z.boolean().meta({
    description:
      'true while the model is newer than this list: every list is being computed again after a change of ' +
      'the model (new vectors, a retraining), and this is the list computed before it',
  }),
  reason: z.string().optional().meta({ description: 'why the list is empty, when it is' }),
  fallback: z
    .string()
    .optional()
    .meta({
      description:
        'set when the configured model could not rank for this customer (too few purchases it knows, not ' +
        'trained yet) and the description model did',
    }),
});

export const recommendation = rankedProduct.extend(explanationFields.shape);

/** The answer: the ranked list, each product with its explanation where written. */
export const recommendationsResponse = rankedList
  .extend({ recommendations: z.array(recommendation) })
  .meta({ id: 'Recommendations' });

export type RankedProduct = z.infer<typeof rankedProduct>;
export type RankedList = z.infer<typeof rankedList>;
export type Recommendation = z.infer<typeof recommendation>;
export type RecommendationsResponse = z.infer<typeof recommendationsResponse>;
