import { describe, expect, it } from '@jest/globals';
import {
  CLOUD_RU_BASE_URL,
  ConfigError,
  LOCAL_EMBEDDING_MODEL,
  describeConfig,
  loadConfig,
  redactUrl,
} from '../src/config/config.js';

describe('configuration from the environment', () => {
  it('has offline defaults: local embeddings and template explanations when no key is set', () => {
    const config = loadConfig({});
    expect(config.databaseUrl).toBe('postgres://postgres@127.0.0.1:5432/retail');
    expect(config.redisUrl).toBe('redis://127.0.0.1:6379');
    expect(config.embedding).toMatchObject({
      provider: 'local',
      model: LOCAL_EMBEDDING_MODEL,
      dimensions: 1024,
      batchSize: 64,
      concurrency: 4,
    });
    expect(config.llm).toMatchObject({
      provider: 'template',
      model: 'openai/gpt-oss-120b',
      baseUrl: CLOUD_RU_BASE_URL,
    });
    expect(config.gatewayPort).toBe(8080);
    expect(config.webPort).toBe(3000);
  });

  it('switches to the cloud models when their keys are set', () => {
    const config = loadConfig({ EMBEDDING_API_KEY: 'e-key', LLM_API_KEY: 'l-key' });
    expect(config.embedding).toMatchObject({
      provider: 'openai',
      model: 'Qwen/Qwen3-Embedding-0.6B',
      apiKey: 'e-key',
    });
    expect(config.llm).toMatchObject({ provider: 'openai', apiKey: 'l-key' });
  });

  it('names every wrong variable at once', () => {
    let error: unknown;
    try {
      loadConfig({
        DATABASE_URL: 'mysql://localhost/x',
        EMBEDDING_BATCH_SIZE: 'many',
        EMBEDDING_DIM: '768',
        GATEWAY_PORT: '70000',
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join('\n');
    expect(problems).toContain('DATABASE_URL: must be a URL like postgres://');
    expect(problems).toContain('EMBEDDING_BATCH_SIZE');
    expect(problems).toContain('EMBEDDING_DIM: must be 1024');
    expect(problems).toContain('GATEWAY_PORT');
  });

  it('refuses a cloud provider without its key', () => {
    expect(() => loadConfig({ EMBEDDING_PROVIDER: 'openai' })).toThrow(/EMBEDDING_API_KEY: required/);
    expect(() => loadConfig({ LLM_PROVIDER: 'openai' })).toThrow(/LLM_API_KEY: required/);
  });

  it('never shows a secret in what it describes', () => {
    const config = loadConfig({
      EMBEDDING_API_KEY: 'sk-embedding-secret',
      LLM_API_KEY: 'sk-llm-secret',
      DATABASE_URL: 'postgres://app:db-secret@db:5432/retail',
    });
    const text = JSON.stringify(describeConfig(config));
    expect(text).not.toContain('sk-embedding-secret');
    expect(text).not.toContain('sk-llm-secret');
    expect(text).not.toContain('db-secret');
    expect(redactUrl('redis://:pw@host:6379')).toBe('redis://:***@host:6379');
  });
});

describe('the served recommendation model', () => {
  it('is the hybrid by default, over the active description model, and can be chosen', async () => {
    const { servedModel, COPURCHASE_MODEL } = await import('../src/models/recommender-models.js');
    const byDefault = loadConfig({});
    expect(byDefault.recommender).toEqual({
      model: 'hybrid',
      minPurchases: 1,
      retrainAfterLines: 50_000,
      retrainAfterSeconds: 3_600,
    });
    expect(servedModel(byDefault)).toEqual({
      kind: 'hybrid',
      name: `hybrid-v1+${LOCAL_EMBEDDING_MODEL}`,
      descriptionModel: LOCAL_EMBEDDING_MODEL,
    });
    expect(servedModel(loadConfig({ RECOMMENDER_MODEL: 'copurchase' })).name).toBe(COPURCHASE_MODEL);
    expect(servedModel(loadConfig({ RECOMMENDER_MODEL: 'description' })).name).toBe(LOCAL_EMBEDDING_MODEL);
    expect(loadConfig({ RECOMMENDER_MIN_PURCHASES: '3' }).recommender.minPurchases).toBe(3);
    expect(
      loadConfig({ RECOMMENDER_RETRAIN_AFTER_LINES: '1000', RECOMMENDER_RETRAIN_AFTER_SECONDS: '60' })
        .recommender,
    ).toMatchObject({ retrainAfterLines: 1000, retrainAfterSeconds: 60 });
  });

  it('refuses an unknown model or threshold, naming the variable', () => {
    expect(() => loadConfig({ RECOMMENDER_MODEL: 'bestsellers', RECOMMENDER_MIN_PURCHASES: '0' })).toThrow(
      /RECOMMENDER_MODEL[\s\S]*RECOMMENDER_MIN_PURCHASES/,
    );
    expect(() => loadConfig({ RECOMMENDER_RETRAIN_AFTER_LINES: 'many' })).toThrow(
      /RECOMMENDER_RETRAIN_AFTER_LINES/,
    );
  });
});

describe('the HTTP API settings', () => {
  it('reads the API settings: keys, limits, trusted proxies and CORS origins', () => {
    expect(loadConfig({}).api).toEqual({
      keys: [],
      keysRequiredForReads: false,
      readsPerMinute: 6000,
      writesPerMinute: 600,
      trustedProxies: ['loopback'],
      corsOrigins: [],
    });
    const config = loadConfig({
      API_KEYS: ' key-one-0123456789abcdef , key-two-0123456789abcdef ',
      API_KEYS_REQUIRED_FOR_READS: 'true',
      RATE_LIMIT_READS_PER_MINUTE: '0',
      TRUSTED_PROXIES: '10.0.0.0/8, ::1, uniquelocal',
      CORS_ORIGINS: 'https://shop.example, http://localhost:5173',
    });
    expect(config.api).toEqual({
      keys: ['key-one-0123456789abcdef', 'key-two-0123456789abcdef'],
      keysRequiredForReads: true,
      readsPerMinute: 0,
      writesPerMinute: 600,
      trustedProxies: ['10.0.0.0/8', '::1', 'uniquelocal'],
      corsOrigins: ['https://shop.example', 'http://localhost:5173'],
    });
    expect(loadConfig({ TRUSTED_PROXIES: 'none' }).api.trustedProxies).toEqual([]);
    expect(loadConfig({ CORS_ORIGINS: '*' }).api.corsOrigins).toEqual(['*']);
  });

  it('refuses weak API keys, odd proxies and origins, and reads that need a key nobody has', () => {
    const problems = (env: Record<string, string>) => {
      try {
        loadConfig(env);
        return '';
      } catch (error) {
        return (error as ConfigError).problems.join('\n');
      }
    };
    const weak = problems({ API_KEYS: 'short-secret' });
    expect(weak).toMatch(/^API_KEYS: each key must be 16 to 512 printable characters/);
    expect(weak).not.toContain('short-secret');
    expect(problems({ API_KEYS: 'a key with spaces in it' })).toMatch(/^API_KEYS:/);
    expect(problems({ API_KEYS_REQUIRED_FOR_READS: 'true' })).toMatch(
      /API_KEYS_REQUIRED_FOR_READS: set API_KEYS/,
    );
    expect(problems({ API_KEYS_REQUIRED_FOR_READS: 'yes' })).toMatch(
      /API_KEYS_REQUIRED_FOR_READS: must be true/,
    );
    expect(problems({ TRUSTED_PROXIES: 'proxy.example' })).toMatch(/^TRUSTED_PROXIES:/);
    expect(problems({ TRUSTED_PROXIES: '10.0.0.0/33' })).toMatch(/^TRUSTED_PROXIES:/);
    expect(problems({ TRUSTED_PROXIES: 'none, 10.0.0.1' })).toMatch(/`none` cannot be listed with proxies/);
    expect(problems({ CORS_ORIGINS: 'https://shop.example/path' })).toMatch(/^CORS_ORIGINS:/);
    expect(problems({ CORS_ORIGINS: 'shop.example' })).toMatch(/^CORS_ORIGINS:/);
    expect(problems({ RATE_LIMIT_WRITES_PER_MINUTE: '-1' })).toMatch(/^RATE_LIMIT_WRITES_PER_MINUTE:/);
  });

  it('never shows an API key in what it describes', () => {
    const config = loadConfig({ API_KEYS: 'secret-key-0123456789abcdef' });
    const text = JSON.stringify(describeConfig(config));
    expect(text).not.toContain('secret-key-0123456789abcdef');
    expect(describeConfig(config).api).toMatchObject({ keys: '1 set (***)' });
    expect(describeConfig(loadConfig({})).api).toMatchObject({ keys: '(not set)' });
  });
});
