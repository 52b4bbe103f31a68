/**
 * The kinds of model the recommendation service can serve (RECOMMENDER_MODEL):
 * - `description`: the seed's method, cosine between product description vectors and the normalised mean
 *   of what the customer bought (model name: the embedding model's);
 * - `copurchase`: learned from what customers bought together (EASE item-item weights, factorised), plus
 *   what sells now;
 * - `hybrid`: both, with weights chosen by `npm run eval`.
 * A leaf: the configuration reads the setting, recommender-models.ts names the models of each kind.
 */
export const RECOMMENDER_KINDS = ['description', 'copurchase', 'hybrid'] as const;
export type RecommenderKind = (typeof RECOMMENDER_KINDS)[number];
