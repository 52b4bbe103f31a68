// @retail/common/embedding-providers: the providers behind EMBEDDING_PROVIDER, with the factory.
export * from './openai-embedding.provider.js';
export * from './create-embedding-provider.js';
