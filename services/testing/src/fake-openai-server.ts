import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LocalEmbeddingProvider } from '@retail/common';

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: unknown;
  receivedAt: number;
}

export interface FakeResponse {
  status?: number;
  headers?: Record<string, string>;
  /** A JSON body (or a string sent as is). */
  body?: unknown;
  /** Wait this long before answering. */
  delayMs?: number;
}

export type FakeHandler = (request: RecordedRequest) => FakeResponse | Promise<FakeResponse>;

export interface FakeOpenAiOptions {
  /** Dimensions of the default embeddings answer. */
  dimensions?: number;
  /** Delay of every default answer (a slow model). */
  delayMs?: number;
  /** The default chat answer. */
  chatContent?: string;
}

interface EmbeddingsBody {
  input?: string[] | string;
  model?: string;
}

/**
 * A local OpenAI-compatible HTTP server for tests and benchmarks: `POST /v1/embeddings` and
 * `POST /v1/chat/completions`. By default it answers like a healthy API (deterministic vectors from
 * the local provider); tests script failures with `enqueue` (next answers, in order) or replace the
 * handlers. Every request is recorded with its headers and body.
 */
export class FakeOpenAiServer {
  readonly requests: RecordedRequest[] = [];
  private readonly scripted: FakeResponse[] = [];
  private embeddingsHandler!: FakeHandler;
  private chatHandler!: FakeHandler;

  private constructor(
    private readonly server: Server,
    readonly baseUrl: string,
    private readonly options: FakeOpenAiOptions,
  ) {
    this.reset();
  }

  /** Back to a healthy API: default handlers, nothing scripted, no request recorded. */
  reset(): void {
    const options = this.options;
    this.requests.length = 0;
    this.scripted.length = 0;
    const local = new LocalEmbeddingProvider(options.dimensions ?? 1024);
    this.embeddingsHandler = (request) => {
      const body = request.body as EmbeddingsBody;
      const input = Array.isArray(body.input) ? body.input : [String(body.input ?? '')];
      return {
        delayMs: options.delayMs,
        body: {
          object: 'list',
          model: body.model,
          data: input.map((text, index) => ({
            object: 'embedding',
            index,
            embedding: Array.from(local.embedOne(text)),
          })),
          usage: { prompt_tokens: input.length, total_tokens: input.length },
        },
      };
    };
    this.chatHandler = (request) => ({
      delayMs: options.delayMs,
      body: chatCompletion(options.chatContent ?? defaultSentence(request)),
    });
  }

  static async start(options: FakeOpenAiOptions = {}): Promise<FakeOpenAiServer> {
    const holder: { fake?: FakeOpenAiServer } = {};
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        void holder
          .fake!.answer(
            req.method ?? 'GET',
            req.url ?? '/',
            req.headers,
            Buffer.concat(chunks).toString('utf8'),
          )
          .then((response) => {
            res.writeHead(response.status ?? 200, {
              'content-type': 'application/json',
              ...response.headers,
            });
            res.end(typeof response.body === 'string' ? response.body : JSON.stringify(response.body ?? {}));
          });
      });
    });
    server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    holder.fake = new FakeOpenAiServer(server, `http://127.0.0.1:${port}/v1`, options);
    return holder.fake;
  }

  /** The next answers, in order, whatever the endpoint; afterwards the handlers answer again. */
  enqueue(...responses: FakeResponse[]): void {
    this.scripted.push(...responses);
  }

  onEmbeddings(handler: FakeHandler): void {
    this.embeddingsHandler = handler;
  }

  onChat(handler: FakeHandler): void {
    this.chatHandler = handler;
  }

  requestsTo(path: string): RecordedRequest[] {
    return this.requests.filter((request) => request.path.endsWith(path));
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async answer(
    method: string,
    url: string,
    headers: IncomingHttpHeaders,
    raw: string,
  ): Promise<FakeResponse> {
    let body: unknown = raw;
    try {
      body = raw ? JSON.parse(raw) : {};
    } catch {
      // recorded as text
    }
    const request: RecordedRequest = {
      method,
      path: url.split('?')[0]!,
      headers,
      body,
      receivedAt: Date.now(),
    };
    this.requests.push(request);
    const scripted = this.scripted.shift();
    let response: FakeResponse;
    if (scripted) response = scripted;
    else if (request.path.endsWith('/embeddings')) response = await this.embeddingsHandler(request);
    else if (request.path.endsWith('/chat/completions')) response = await this.chatHandler(request);
    else response = { status: 404, body: { error: { message: `no route ${request.path}` } } };
    if (response.delayMs) await new Promise((resolve) => setTimeout(resolve, response.delayMs));
    return response;
  }
}

/** A sentence about the product a chat request's prompt recommends, as a model would write. */
export function defaultSentence(request: RecordedRequest): string {
  const messages = (request.body as { messages?: { content?: unknown }[] }).messages ?? [];
  const content = messages.at(-1)?.content;
  const prompt = typeof content === 'string' ? content : '';
  const product = /Recommended product: (.*)/.exec(prompt)?.[1]?.trim().toLowerCase() ?? 'this piece';
  return `The ${product} goes well with the things you already love.`;
}

/** A chat completions answer with one choice. */
export function chatCompletion(content: string | null, finishReason = 'stop'): Record<string, unknown> {
  return {
    id: 'chatcmpl-test',
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: 'fake',
    choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: finishReason }],
    usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
  };
}

/** An error answer the way OpenAI-compatible APIs write them. */
export function apiError(
  status: number,
  message: string,
  headers: Record<string, string> = {},
): FakeResponse {
  return { status, headers, body: { error: { message, type: 'error', code: status } } };
}

export interface EmbeddingsAnswer {
  object: 'list';
  model: string;
  data: { object: 'embedding'; index: number; embedding: number[] }[];
  usage: { prompt_tokens: number; total_tokens: number };
}

/** An embeddings answer with `count` dense vectors of `dimensions` values (for scripted answers). */
export function embeddingsAnswer(count: number, dimensions = 1024): EmbeddingsAnswer {
  return {
    object: 'list',
    model: 'fake',
    data: Array.from({ length: count }, (_, index) => ({
      object: 'embedding' as const,
      index,
      embedding: Array.from({ length: dimensions }, (_, i) => Math.sin(index + i + 1)),
    })),
    usage: { prompt_tokens: count, total_tokens: count },
  };
}
