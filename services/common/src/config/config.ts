import { isIP } from 'node:net';
import { z } from 'zod';
import { RECOMMENDER_KINDS, type RecommenderKind } from '../models/recommender-kind.js';
import { defaultDataFile } from './paths.js';

/** Cloud.ru Foundation Models: the default OpenAI-compatible endpoint for both cloud models. */
export const CLOUD_RU_BASE_URL = 'https://foundation-models.api.cloud.ru/v1';
/** The model name under which the offline `local` embedding provider stores its vectors. */
export const LOCAL_EMBEDDING_MODEL = 'local-hashed-ngrams-v1';
/** Every stored vector has this many dimensions (the `vector(1024)` column). */
export const EMBEDDING_DIMENSIONS = 1024;
/**
 * Customers with fewer purchases known to the co-purchase model than this get the description model's list
 * (RECOMMENDER_MIN_PURCHASES). Chosen by `npm run eval` on the validation split (README, "Recommendation quality").
 */
export const DEFAULT_RECOMMENDER_MIN_PURCHASES = 1;

export type EmbeddingProviderName = 'openai' | 'local';
export type LlmProviderName = 'openai' | 'template';

export interface EmbeddingConfig {
  provider: EmbeddingProviderName;
  /** The model whose vector space is active: EMBEDDING_MODEL for `openai`, the local model's name otherwise. */
  model: string;
  baseUrl: string;
  apiKey: string | undefined;
  dimensions: number;
  batchSize: number;
  concurrency: number;
  timeoutMs: number;
  /** Attempts of a job in the queue (exponential backoff from retryDelayMs between them). */
  maxAttempts: number;
  retryDelayMs: number;
  /** Retries of one HTTP request inside an attempt (429/5xx/timeouts, honouring Retry-After). */
  httpRetries: number;
}

export interface LlmConfig {
  provider: LlmProviderName;
  model: string;
  baseUrl: string;
  apiKey: string | undefined;
  /** Chat requests in flight at once, in each explanation process. */
  concurrency: number;
  /** Chat requests started per minute by the whole deployment (the explanation processes share it in Redis). */
  requestsPerMinute: number;
  timeoutMs: number;
  /** Retries of one request (429/5xx/timeouts, honouring Retry-After) before the template stands in. */
  httpRetries: number;
  /** Answer budget, reasoning included (gpt-oss is a reasoning model). */
  maxTokens: number;
  reasoningEffort: 'low' | 'medium' | 'high';
}

/** How explanations are written, kept and paid for (see the README, "Explanations"). */
export interface ExplanationsConfig {
  /** How long a written sentence stays cached. */
  ttlSeconds: number;
  /** How long a `failed` sentence (the template standing in for the model) stays before the model is asked again. */
  retrySeconds: number;
  /**
   * How long a person waits for a model's sentence: after this the grounded template sentence stands in
   * (marked `failed`), and the model's sentence replaces it when it comes. The gateway stops calling a
   * sentence `pending` after twice this long.
   */
  waitMs: number;
  /**
   * Model calls per minute for background events, for the whole deployment and part of
   * LLM_REQUESTS_PER_MINUTE (default a tenth of it; 0: none, sentences are then written when asked for).
   */
  backgroundRequestsPerMinute: number;
  /** Background events older than this are dropped unwritten (their sentences are written when asked for). */
  backgroundMaxAgeSeconds: number;
}

/** The HTTP API's keys, who must present one, its rate limits, and who may call it from where. */
export interface ApiConfig {
  /** API_KEYS: the bearer keys the write endpoints require (secrets: never logged). */
  keys: string[];
  /** API_KEYS_REQUIRED_FOR_READS: the read endpoints require a key too (health never does). */
  keysRequiredForReads: boolean;
  /** Requests a minute a client may make: reads, and writes (0: no limit). */
  readsPerMinute: number;
  writesPerMinute: number;
  /**
   * TRUSTED_PROXIES: the proxies whose X-Forwarded-For is believed (addresses, CIDR ranges, or `loopback`,
   * `linklocal`, `uniquelocal`); empty: none, every client is counted by its own address.
   */
  trustedProxies: string[];
  /** CORS_ORIGINS: the browser origins allowed to call the API from another origin (`*`: any); none by default. */
  corsOrigins: string[];
}

export interface AppConfig {
  nodeEnv: 'development' | 'production' | 'test';
  logLevel: 'error' | 'warn' | 'log' | 'debug' | 'verbose';
  databaseUrl: string;
  redisUrl: string;
  /** Prefix of every BullMQ key, so that several deployments (or the tests) can share one Redis. */
  queuePrefix: string;
  dataFile: string;
  embedding: EmbeddingConfig;
  llm: LlmConfig;
  explanations: ExplanationsConfig;
  gatewayPort: number;
  webPort: number;
  /** HTTP port of a worker's /health and /metrics (0: none). */
  metricsPort: number;
  /** Where the gateway listens: loopback by default outside production, every interface in production. */
  gatewayHost: string;
  /**
   * The queue dashboard (/admin/queues on the gateway): its credentials, and whether it may change jobs
   * (pause, retry, clean, add); read-only by default in production.
   */
  dashboard: { user: string; password: string | undefined; readOnly: boolean };
  /** Where the recommendation service listens (TCP, @nestjs/microservices) and the gateway finds it. */
  recommendation: {
    host: string;
    port: number;
    timeoutMs: number;
    /** How often each recommendation process looks for lists to refresh and models to train. */
    refreshIntervalMs: number;
    /** Lists computed at once by the refresh jobs, across every recommendation process. */
    refreshConcurrency: number;
  };
  /** The HTTP API's keys, rate limits, trusted proxies and CORS origins. */
  api: ApiConfig;
  /** The served model (RECOMMENDER_MODEL): see services/common/src/models/recommender-kind.ts. */
  recommender: {
    model: RecommenderKind;
    minPurchases: number;
    /** The models learned from purchases retrain once this many lines were posted since their training... */
    retrainAfterLines: number;
    /** ...or this long after it (when purchases changed at all); a new ingestion retrains them at once. */
    retrainAfterSeconds: number;
  };
  /**
   * How long a worker's claim on a job lasts without renewal: after a crash, its jobs go back to the
   * queue within about this time.
   */
  workerLockMs: number;
}

/** Raised when the environment is invalid; its message lists every problem, never a secret's value. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

const emptyAsUndefined = (value: unknown): unknown =>
  typeof value === 'string' && value.trim() === '' ? undefined : value;

const optionalString = z.preprocess(emptyAsUndefined, z.string().trim().optional());
const int = (min: number, max: number, fallback: number) =>
  z.preprocess(emptyAsUndefined, z.coerce.number().int().min(min).max(max).default(fallback));
const flag = () =>
  z.preprocess(
    emptyAsUndefined,
    z
      .enum(['true', 'false', '1', '0'], { error: 'must be true or false' })
      .transform((value) => value === 'true' || value === '1')
      .optional(),
  );
/** A comma-separated list (spaces around the commas ignored), each item checked by `item`. */
const list = (item: (value: string) => boolean, message: string) =>
  z.preprocess(
    emptyAsUndefined,
    z
      .string()
      .transform((value) =>
        value
          .split(',')
          .map((part) => part.trim())
          .filter((part) => part.length > 0),
      )
      .refine((items) => items.every(item), message)
      .optional(),
  );
const isApiKey = (value: string) => /^[\x21-\x7e]{16,512}$/.test(value);
const PROXY_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);
const isProxy = (value: string) => {
  if (PROXY_NAMES.has(value)) return true;
  const [address = '', bits, ...rest] = value.split('/');
  const version = isIP(address);
  if (version === 0 || rest.length > 0) return false;
  return bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= (version === 4 ? 32 : 128));
};
const isOrigin = (value: string) => {
  if (value === '*') return true;
  try {
    const origin = new URL(value).origin;
    return origin !== 'null' && origin === value;
  } catch {
    return false;
  }
};
const url = (protocols: RegExp, hint: string) =>
  z
    .string()
    .trim()
    .refine((value) => {
      try {
        return protocols.test(new URL(value).protocol);
      } catch {
        return false;
      }
    }, `must be a URL like ${hint}`);

/** A model endpoint's variables: <PREFIX>_PROVIDER (`openai` or the offline one), _BASE_URL and _MODEL. */
const provider = <Offline extends string>(offline: Offline) =>
  z.preprocess(emptyAsUndefined, z.enum(['openai', offline]).optional());
const modelBaseUrl = z.preprocess(
  emptyAsUndefined,
  url(/^https?:$/, 'https://host/v1').default(CLOUD_RU_BASE_URL),
);
const modelName = (fallback: string) => z.preprocess(emptyAsUndefined, z.string().trim().default(fallback));

const envSchema = z.object({
  NODE_ENV: z.preprocess(
    emptyAsUndefined,
    z.enum(['development', 'production', 'test']).default('development'),
  ),
  LOG_LEVEL: z.preprocess(
    emptyAsUndefined,
    z.enum(['error', 'warn', 'log', 'debug', 'verbose']).default('log'),
  ),
  DATABASE_URL: z.preprocess(
    emptyAsUndefined,
    url(/^postgres(ql)?:$/, 'postgres://user@host:5432/db').default(
      'postgres://postgres@127.0.0.1:5432/retail',
    ),
  ),
  REDIS_URL: z.preprocess(
    emptyAsUndefined,
    url(/^rediss?:$/, 'redis://host:6379').default('redis://127.0.0.1:6379'),
  ),
  QUEUE_PREFIX: z.preprocess(
    emptyAsUndefined,
    z
      .string()
      .regex(/^[A-Za-z0-9_-]+$/, 'may contain only letters, digits, _ and -')
      .default('retail'),
  ),
  DATA_FILE: optionalString,
  EMBEDDING_PROVIDER: provider('local'),
  EMBEDDING_BASE_URL: modelBaseUrl,
  EMBEDDING_API_KEY: optionalString,
  EMBEDDING_MODEL: modelName('Qwen/Qwen3-Embedding-0.6B'),
  EMBEDDING_DIM: int(1, 65536, EMBEDDING_DIMENSIONS).refine(
    (value) => value === EMBEDDING_DIMENSIONS,
    `must be ${EMBEDDING_DIMENSIONS}: the product_embeddings column is vector(${EMBEDDING_DIMENSIONS})`,
  ),
  EMBEDDING_BATCH_SIZE: int(1, 2048, 64),
  EMBEDDING_CONCURRENCY: int(1, 64, 4),
  EMBEDDING_TIMEOUT_MS: int(100, 600_000, 60_000),
  EMBEDDING_MAX_ATTEMPTS: int(1, 50, 6),
  EMBEDDING_RETRY_DELAY_MS: int(0, 3_600_000, 1_000),
  EMBEDDING_HTTP_RETRIES: int(0, 10, 3),
  LLM_PROVIDER: provider('template'),
  LLM_BASE_URL: modelBaseUrl,
  LLM_API_KEY: optionalString,
  LLM_MODEL: modelName('openai/gpt-oss-120b'),
  LLM_CONCURRENCY: int(1, 256, 16),
  LLM_REQUESTS_PER_MINUTE: int(1, 100_000, 600),
  LLM_TIMEOUT_MS: int(100, 600_000, 30_000),
  LLM_HTTP_RETRIES: int(0, 10, 3),
  LLM_MAX_TOKENS: int(16, 32_768, 512),
  LLM_REASONING_EFFORT: z.preprocess(emptyAsUndefined, z.enum(['low', 'medium', 'high']).default('low')),
  EXPLANATION_TTL_SECONDS: int(60, 31_536_000, 7 * 24 * 3600),
  EXPLANATION_RETRY_SECONDS: int(10, 86_400, 600),
  EXPLANATION_WAIT_MS: int(500, 60_000, 4_000),
  EXPLANATION_BACKGROUND_REQUESTS_PER_MINUTE: z.preprocess(
    emptyAsUndefined,
    z.coerce.number().int().min(0).max(100_000).optional(),
  ),
  EXPLANATION_BACKGROUND_MAX_AGE_SECONDS: int(1, 7 * 24 * 3600, 900),
  METRICS_PORT: int(0, 65535, 0),
  QUEUE_DASHBOARD_USER: z.preprocess(emptyAsUndefined, z.string().default('admin')),
  QUEUE_DASHBOARD_PASSWORD: optionalString,
  QUEUE_DASHBOARD_READ_ONLY: z.preprocess(
    emptyAsUndefined,
    z
      .enum(['true', 'false', '1', '0'], { error: 'must be true or false' })
      .transform((value) => value === 'true' || value === '1')
      .optional(),
  ),
  GATEWAY_HOST: z.preprocess(emptyAsUndefined, z.string().trim().optional()),
  GATEWAY_PORT: int(1, 65535, 8080),
  WEB_PORT: int(1, 65535, 3000),
  WORKER_LOCK_MS: int(1_000, 600_000, 30_000),
  RECOMMENDATION_HOST: z.preprocess(emptyAsUndefined, z.string().trim().default('127.0.0.1')),
  RECOMMENDATION_PORT: int(1, 65535, 4001),
  RECOMMENDATION_TIMEOUT_MS: int(50, 120_000, 3_000),
  RECOMMENDATION_REFRESH_INTERVAL_MS: int(100, 3_600_000, 2_000),
  RECOMMENDATION_REFRESH_CONCURRENCY: int(1, 64, 2),
  RECOMMENDER_MODEL: z.preprocess(emptyAsUndefined, z.enum(RECOMMENDER_KINDS).default('hybrid')),
  RECOMMENDER_MIN_PURCHASES: int(1, 10_000, DEFAULT_RECOMMENDER_MIN_PURCHASES),
  RECOMMENDER_RETRAIN_AFTER_LINES: int(1, 100_000_000, 50_000),
  RECOMMENDER_RETRAIN_AFTER_SECONDS: int(1, 30 * 24 * 3600, 3600),
  API_KEYS: list(
    isApiKey,
    'each key must be 16 to 512 printable characters without spaces or commas (e.g. `openssl rand -hex 32`)',
  ),
  API_KEYS_REQUIRED_FOR_READS: flag(),
  RATE_LIMIT_READS_PER_MINUTE: int(0, 10_000_000, 6_000),
  RATE_LIMIT_WRITES_PER_MINUTE: int(0, 10_000_000, 600),
  TRUSTED_PROXIES: list(
    (value) => value === 'none' || isProxy(value),
    'must be `none`, or addresses and CIDR ranges (10.0.0.0/8), or loopback, linklocal, uniquelocal',
  ),
  CORS_ORIGINS: list(isOrigin, 'must be origins like https://shop.example.com (scheme, host, port), or *'),
});

type Env = Record<string, string | undefined>;

/**
 * Reads and validates the configuration from the environment (the README's "Configuration"; every variable in .env.example).
 * Throws a ConfigError naming every wrong variable.
 */
export function loadConfig(env: Env = process.env): AppConfig {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => `${issue.path.join('.') || 'environment'}: ${issue.message}`),
    );
  }
  const e = parsed.data;
  const problems: string[] = [];

  /** As set; else `openai` with an API key and the offline provider without; `openai` needs the key. */
  const providerOf = <Offline extends string>(
    prefix: 'EMBEDDING' | 'LLM',
    set: 'openai' | Offline | undefined,
    apiKey: string | undefined,
    offline: Offline,
  ): 'openai' | Offline => {
    const chosen = set ?? (apiKey ? 'openai' : offline);
    if (chosen === 'openai' && !apiKey) {
      problems.push(
        `${prefix}_API_KEY: required when ${prefix}_PROVIDER=openai (or use ${prefix}_PROVIDER=${offline})`,
      );
    }
    return chosen;
  };
  const embeddingProvider: EmbeddingProviderName = providerOf(
    'EMBEDDING',
    e.EMBEDDING_PROVIDER,
    e.EMBEDDING_API_KEY,
    'local',
  );
  const llmProvider: LlmProviderName = providerOf('LLM', e.LLM_PROVIDER, e.LLM_API_KEY, 'template');
  // Background work gets a tenth of the model budget unless told otherwise (60 calls a minute by default).
  const backgroundRequestsPerMinute =
    e.EXPLANATION_BACKGROUND_REQUESTS_PER_MINUTE ?? Math.floor(e.LLM_REQUESTS_PER_MINUTE / 10);
  if (backgroundRequestsPerMinute > e.LLM_REQUESTS_PER_MINUTE) {
    problems.push(
      `EXPLANATION_BACKGROUND_REQUESTS_PER_MINUTE: must not exceed LLM_REQUESTS_PER_MINUTE (${e.LLM_REQUESTS_PER_MINUTE}): ` +
        'background work takes its calls from the same budget as the shoppers',
    );
  }
  const apiKeys = e.API_KEYS ?? [];
  const keysRequiredForReads = e.API_KEYS_REQUIRED_FOR_READS ?? false;
  if (keysRequiredForReads && apiKeys.length === 0) {
    problems.push('API_KEYS_REQUIRED_FOR_READS: set API_KEYS too (without a key nothing could be read)');
  }
  const trustedProxies = e.TRUSTED_PROXIES ?? ['loopback'];
  if (trustedProxies.includes('none') && trustedProxies.length > 1) {
    problems.push('TRUSTED_PROXIES: `none` cannot be listed with proxies');
  }
  if (problems.length > 0) throw new ConfigError(problems);

  return {
    nodeEnv: e.NODE_ENV,
    logLevel: e.LOG_LEVEL,
    databaseUrl: e.DATABASE_URL,
    redisUrl: e.REDIS_URL,
    queuePrefix: e.QUEUE_PREFIX,
    dataFile: e.DATA_FILE ?? defaultDataFile(),
    embedding: {
      provider: embeddingProvider,
      model: embeddingProvider === 'local' ? LOCAL_EMBEDDING_MODEL : e.EMBEDDING_MODEL,
      baseUrl: e.EMBEDDING_BASE_URL,
      apiKey: e.EMBEDDING_API_KEY,
      dimensions: e.EMBEDDING_DIM,
      batchSize: e.EMBEDDING_BATCH_SIZE,
      concurrency: e.EMBEDDING_CONCURRENCY,
      timeoutMs: e.EMBEDDING_TIMEOUT_MS,
      maxAttempts: e.EMBEDDING_MAX_ATTEMPTS,
      retryDelayMs: e.EMBEDDING_RETRY_DELAY_MS,
      httpRetries: e.EMBEDDING_HTTP_RETRIES,
    },
    llm: {
      provider: llmProvider,
      model: e.LLM_MODEL,
      baseUrl: e.LLM_BASE_URL,
      apiKey: e.LLM_API_KEY,
      concurrency: e.LLM_CONCURRENCY,
      requestsPerMinute: e.LLM_REQUESTS_PER_MINUTE,
      timeoutMs: e.LLM_TIMEOUT_MS,
      httpRetries: e.LLM_HTTP_RETRIES,
      maxTokens: e.LLM_MAX_TOKENS,
      reasoningEffort: e.LLM_REASONING_EFFORT,
    },
    explanations: {
      ttlSeconds: e.EXPLANATION_TTL_SECONDS,
      retrySeconds: e.EXPLANATION_RETRY_SECONDS,
      waitMs: e.EXPLANATION_WAIT_MS,
      backgroundRequestsPerMinute,
      backgroundMaxAgeSeconds: e.EXPLANATION_BACKGROUND_MAX_AGE_SECONDS,
    },
    gatewayPort: e.GATEWAY_PORT,
    gatewayHost: e.GATEWAY_HOST ?? (e.NODE_ENV === 'production' ? '0.0.0.0' : '127.0.0.1'),
    webPort: e.WEB_PORT,
    workerLockMs: e.WORKER_LOCK_MS,
    metricsPort: e.METRICS_PORT,
    dashboard: {
      user: e.QUEUE_DASHBOARD_USER,
      password: e.QUEUE_DASHBOARD_PASSWORD,
      readOnly: e.QUEUE_DASHBOARD_READ_ONLY ?? e.NODE_ENV === 'production',
    },
    recommendation: {
      host: e.RECOMMENDATION_HOST,
      port: e.RECOMMENDATION_PORT,
      timeoutMs: e.RECOMMENDATION_TIMEOUT_MS,
      refreshIntervalMs: e.RECOMMENDATION_REFRESH_INTERVAL_MS,
      refreshConcurrency: e.RECOMMENDATION_REFRESH_CONCURRENCY,
    },
    recommender: {
      model: e.RECOMMENDER_MODEL,
      minPurchases: e.RECOMMENDER_MIN_PURCHASES,
      retrainAfterLines: e.RECOMMENDER_RETRAIN_AFTER_LINES,
      retrainAfterSeconds: e.RECOMMENDER_RETRAIN_AFTER_SECONDS,
    },
    api: {
      keys: apiKeys,
      keysRequiredForReads,
      readsPerMinute: e.RATE_LIMIT_READS_PER_MINUTE,
      writesPerMinute: e.RATE_LIMIT_WRITES_PER_MINUTE,
      trustedProxies: trustedProxies.filter((proxy) => proxy !== 'none'),
      corsOrigins: e.CORS_ORIGINS ?? [],
    },
  };
}

/** The configuration with secrets masked and credentials removed from URLs: safe to log. */
export function describeConfig(config: AppConfig): Record<string, unknown> {
  const mask = (secret: string | undefined) => (secret ? '***' : '(not set)');
  return {
    ...config,
    databaseUrl: redactUrl(config.databaseUrl),
    redisUrl: redactUrl(config.redisUrl),
    embedding: { ...config.embedding, apiKey: mask(config.embedding.apiKey) },
    llm: { ...config.llm, apiKey: mask(config.llm.apiKey) },
    dashboard: { ...config.dashboard, password: mask(config.dashboard.password) },
    api: {
      ...config.api,
      keys: config.api.keys.length > 0 ? `${config.api.keys.length} set (***)` : '(not set)',
    },
  };
}

/** A URL without its password, for logs and error messages. */
export function redactUrl(value: string): string {
  try {
    const parsed = new URL(value);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparseable URL)';
  }
}
