import path from 'node:path';
import type { LoggerService } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { loadConfig, type AppConfig } from '@retail/common';
import { freePort, runCli, startProcess, stop, type RunningProcess } from '@retail/testing';
import { createGateway } from '../src/app.js';

/** The ingestion's test fixtures. */
export const FIXTURES = path.join(import.meta.dirname, '..', '..', 'ingestion', 'test', 'fixtures');

/**
 * Loads a catalog through the CLIs, as an operator would: a fixture file (or, without one, the real data
 * set), then its vectors with the local provider unless `embed` is false.
 */
export async function loadCatalog(fixture?: string, { embed = true } = {}): Promise<void> {
  const ingest = await runCli(
    'services/ingestion/dist/main.js',
    fixture ? ['--file', path.join(FIXTURES, fixture)] : ['--no-embeddings'],
  );
  if (ingest.code !== 0) throw new Error(`ingestion failed:\n${ingest.stderr}`);
  if (!embed) return;
  const embedded = await runCli('services/embedder/dist/embed.cli.js', ['--wait']);
  if (embedded.code !== 0) throw new Error(`embedding failed:\n${embedded.stdout}${embedded.stderr}`);
}

/** The recommendation service as its own process (as in production), and the gateway in this process. */
export interface TestStack {
  config: AppConfig;
  gateway: NestFastifyApplication;
  url: string;
  recommendation: RunningProcess;
  startRecommendation(): Promise<void>;
  stopRecommendation(signal?: NodeJS.Signals): Promise<void>;
  get(path: string): Promise<{ status: number; body: any; text: string; contentType: string | null }>;
  close(): Promise<void>;
}

export async function startStack(
  env: Record<string, string> = {},
  { logger = false }: { logger?: LoggerService | false } = {},
): Promise<TestStack> {
  const port = await freePort();
  const serviceEnv = {
    RECOMMENDATION_PORT: String(port),
    RECOMMENDATION_REFRESH_INTERVAL_MS: '200',
    RECOMMENDATION_TIMEOUT_MS: '2000',
    ...env,
  };
  const config = loadConfig({ ...process.env, ...serviceEnv });
  const stack = {
    config,
    recommendation: undefined as unknown as RunningProcess,
    async startRecommendation() {
      stack.recommendation = startProcess('services/recommendation/dist/main.js', [], serviceEnv);
      await stack.recommendation.waitFor(/listening on tcp/);
    },
    async stopRecommendation(signal: NodeJS.Signals = 'SIGTERM') {
      await stop(stack.recommendation, signal);
    },
  } as TestStack;
  await stack.startRecommendation();
  const gateway = await createGateway(config, logger);
  await gateway.listen(0, '127.0.0.1');
  const url = await gateway.getUrl();
  return Object.assign(stack, {
    gateway,
    url,
    async get(path: string) {
      const response = await fetch(`${url}${path}`, { signal: AbortSignal.timeout(15_000) });
      const text = await response.text();
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        body = undefined;
      }
      return { status: response.status, body, text, contentType: response.headers.get('content-type') };
    },
    async close() {
      await gateway.close();
      await stack.stopRecommendation();
    },
  });
}
