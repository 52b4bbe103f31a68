import type { ExplanationSource } from '@retail/common';

/**
 * Who is waiting for a sentence: `interactive`, a person (the page asked, or is polling); `background`,
 * nobody yet (a recommendation event from an API call). Interactive calls always go first.
 */
export type ExplanationLane = 'interactive' | 'background';

/**
 * Why the purchases of a context relate to the product: `similar`, they resemble it (shared words and word
 * pieces); `bought-together`, other customers who bought them often bought the product too (the purchases
 * that pulled a co-purchase pick up).
 */
export type ExplanationGround = 'similar' | 'bought-together';

/** What a sentence is written from: the recommended product and the user's purchases that explain it. */
export interface ExplanationContext {
  productDescription: string;
  /** Descriptions of a handful of the user's purchases, the most relevant to this product first. */
  purchases: string[];
  /** How those purchases relate to the product (default `similar`). */
  ground?: ExplanationGround;
}

export interface WrittenExplanation {
  text: string;
  source: ExplanationSource;
  /**
   * True when the model could not be used (errors after every retry, or answers that were not an
   * explanation) and the template stood in.
   */
  failed?: boolean;
  /** True when the model answered, but not with an explanation of this product (see answer-check.ts). */
  rejected?: boolean;
}

/** Writes one short English sentence on why a product suits a user. */
export interface ExplanationWriter {
  /** The model (or `template`): with the prompt version, the namespace its sentences are cached under. */
  readonly name: string;
  /** True when a sentence costs a model call (the caller schedules it in the ModelCallBudget). */
  readonly callsModel: boolean;
  /** Rejects (with the abort reason) only when `signal` aborts; every other failure is in the result. */
  write(context: ExplanationContext, signal?: AbortSignal): Promise<WrittenExplanation>;
}
