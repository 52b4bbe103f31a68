import type { ExplanationSource } from '@retail/contracts';

/**
 * The explanation cache: the contract between the explanation service, which writes one sentence per
 * (user, product), and the gateway, which reads them. Sentences live under the namespace of the writer
 * that wrote them (its model and prompt version), and the writer announces its namespace in Redis: so
 * the gateway reads whatever the running explanation service writes, whatever its own LLM settings, and
 * switching the model or the prompt makes every older sentence unreachable (they expire by themselves).
 */

/** Bumped whenever the prompt or the context changes: sentences written for an older prompt are not shown. */
export const PROMPT_VERSION = 'p3';

export type { ExplanationSource, ExplanationStatus } from '@retail/contracts';

/** What the explanation cache holds for one (writer, user, product). */
export interface CachedExplanation {
  text: string;
  source: ExplanationSource;
  /**
   * `failed` when the model could not write it (down, rate-limited, too slow for a waiting shopper, or an
   * unusable answer) and the grounded template sentence stands in; kept only EXPLANATION_RETRY_SECONDS,
   * then the model is asked again.
   */
  status: 'ready' | 'failed';
}

/**
 * The namespace of a writer: its model, the prompt version, and what the served recommender's picks are
 * based on (the sentences are grounded in it): `openai/gpt-oss-120b@p3/hybrid`, `template@p3/description`.
 */
export function writerNamespace(writer: string, recommender: string): string {
  return `${writer}@${PROMPT_VERSION}/${recommender}`;
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
