import type { AppConfig } from '../config/config.js';
import type { RecommenderKind } from './recommender-kind.js';

/*
 * The models of each kind the recommendation service can serve (RECOMMENDER_MODEL, recommender-kind.ts).
 * Every stored vector records its model; a ranking scans one model's vectors.
 */

/** The co-purchase model's name (its vectors in product_factors). Bump the suffix when the method changes. */
export const COPURCHASE_MODEL = 'copurchase-ease-v1';

/** The hybrid model's name: it is defined over one description model. */
export function hybridModel(descriptionModel: string): string {
  return `hybrid-v1+${descriptionModel}`;
}

export interface ServedModel {
  kind: RecommenderKind;
  /** The model whose vectors rank the products. */
  name: string;
  /** The description model (the fallback of the others, and a part of the hybrid). */
  descriptionModel: string;
}

/** The model served under RECOMMENDER_MODEL, with the description model (EMBEDDING_MODEL) it builds on. */
export function servedModel(config: Pick<AppConfig, 'embedding' | 'recommender'>): ServedModel {
  return servedModelOf(config.recommender.model, config.embedding.model);
}

/** The model of `kind` over `descriptionModel`. */
export function servedModelOf(kind: RecommenderKind, descriptionModel: string): ServedModel {
  const name =
    kind === 'description'
      ? descriptionModel
      : kind === 'copurchase'
        ? COPURCHASE_MODEL
        : hybridModel(descriptionModel);
  return { kind, name, descriptionModel };
}

/** What a model's picks are based on, in words for shoppers and operators. */
export function describeBasis(kind: RecommenderKind): string {
  switch (kind) {
    case 'description':
      return 'products whose descriptions resemble what the customer bought';
    case 'copurchase':
      return 'what other customers bought together with what this customer bought, and what sells well now';
    case 'hybrid':
      return 'what other customers bought together with what this customer bought, what sells well now, and products whose descriptions resemble their purchases';
  }
}
