import type { AppConfig } from '../config/config.js';

/** Bumped whenever the prompt changes: sentences written for an older prompt are asked for again. */
export const PROMPT_VERSION = 'p1';

export type ExplanationSource = 'llm' | 'template';
export type ExplanationStatus = 'pending' | 'ready' | 'failed';

/** What the explanation cache holds for one (model, prompt, user, product). */
export interface CachedExplanation {
  text: string;
  source: ExplanationSource;
  /** `failed` when the model could not be used and the template sentence stands in. */
  status: 'ready' | 'failed';
}

/**
 * The Redis key of one explanation: the writer's model (the LLM, or `template`), the prompt version,
 * the embedding model whose ranking the product came from, the user and the product.
 */
export function explanationCacheKey(
  config: Pick<AppConfig, 'queuePrefix' | 'llm' | 'embedding'>,
  userId: string,
  productId: string,
): string {
  const writer = config.llm.provider === 'openai' ? config.llm.model : 'template';
  return `${config.queuePrefix}:explanation:${writer}:${PROMPT_VERSION}:${config.embedding.model}:${userId}:${productId}`;
}

export function parseCachedExplanation(raw: string | null): CachedExplanation | undefined {
  if (!raw) return undefined;
  try {
    const value = JSON.parse(raw) as Partial<CachedExplanation>;
    if (typeof value.text === 'string' && (value.source === 'llm' || value.source === 'template')) {
      return {
        text: value.text,
        source: value.source,
        status: value.status === 'failed' ? 'failed' : 'ready',
      };
    }
  } catch {
    // an unreadable entry counts as missing
  }
  return undefined;
}
