import type { ExplanationSource } from './explanation-cache.js';

/** What a sentence is written from: the recommended product and the user's closest purchases. */
export interface ExplanationContext {
  productDescription: string;
  /** Descriptions of a handful of the user's purchases, the most relevant to this product first. */
  purchases: string[];
}

export interface WrittenExplanation {
  text: string;
  source: ExplanationSource;
  /** True when the model could not be used (errors after every retry) and the template stood in. */
  failed?: boolean;
}

/** Writes one short English sentence on why a product suits a user. */
export interface ExplanationWriter {
  /** `llm` or `template`: part of the cache key, so that sentences of different writers never mix. */
  readonly name: string;
  write(context: ExplanationContext): Promise<WrittenExplanation>;
}
