import type { EmbeddingConfig } from '../config/config.js';
import type { EmbeddingProvider } from './embedding-provider.js';
import { LocalEmbeddingProvider } from './local-embedding.provider.js';
import { OpenAiEmbeddingProvider, type OpenAiEmbeddingOptions } from './openai-embedding.provider.js';

/** The provider EMBEDDING_PROVIDER names (`local` by default when no key is set). */
export function createEmbeddingProvider(
  config: EmbeddingConfig,
  options: OpenAiEmbeddingOptions = {},
): EmbeddingProvider {
  return config.provider === 'openai'
    ? new OpenAiEmbeddingProvider(config, options)
    : new LocalEmbeddingProvider(config.dimensions);
}
