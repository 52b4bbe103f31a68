import OpenAI from 'openai';
import type { LlmConfig } from '@retail/common';
import type { ExplanationContext, ExplanationWriter, WrittenExplanation } from './explanation-writer.js';
import { explanationPrompt } from './prompt.js';
import { cleanSentence } from './sentence.js';
import { answerProblem } from './answer-check.js';
import { templateSentence } from './template-explainer.js';

/** An answer that is not an explanation is asked for once more, then the template stands in. */
const ANSWER_ATTEMPTS = 2;

export interface OpenAiExplainerOptions {
  /** Where failures are reported (never with the key). */
  log?: (message: string) => void;
}

/**
 * Sentences from a chat model through any OpenAI-compatible API (default Cloud.ru,
 * openai/gpt-oss-120b, a reasoning model: low reasoning effort and a bounded answer budget). The caller
 * schedules the calls (ModelCallBudget: interactive first); 429/5xx/timeouts are retried by the client with
 * backoff (Retry-After honoured). Every answer is cleaned (sentence.ts) and checked (answer-check.ts: no
 * instructions or talk about itself, and something of the product or the purchases named); an answer that
 * fails is asked for once more, then the template sentence stands in, marked failed, as it does for a
 * request that failed after every retry.
 */
export class OpenAiExplainer implements ExplanationWriter {
  readonly name: string;
  readonly callsModel = true;
  private readonly client: OpenAI;

  constructor(
    private readonly config: LlmConfig,
    private readonly options: OpenAiExplainerOptions = {},
  ) {
    this.name = config.model;
    const log = options.log ?? (() => undefined);
    this.client = new OpenAI({
      apiKey: config.apiKey,
      baseURL: config.baseUrl,
      timeout: config.timeoutMs,
      maxRetries: config.httpRetries,
      logLevel: 'warn',
      logger: { error: log, warn: log, info: () => undefined, debug: () => undefined },
    });
  }

  async write(context: ExplanationContext, signal?: AbortSignal): Promise<WrittenExplanation> {
    let problem = '';
    for (let attempt = 1; attempt <= ANSWER_ATTEMPTS; attempt++) {
      let answer: string | null | undefined;
      try {
        const completion = await this.client.chat.completions.create(
          {
            model: this.config.model,
            messages: explanationPrompt(context),
            max_completion_tokens: this.config.maxTokens,
            reasoning_effort: this.config.reasoningEffort,
          },
          { signal },
        );
        answer = completion.choices?.[0]?.message?.content;
      } catch (error) {
        if (signal?.aborted) throw signal.reason;
        this.options.log?.(`chat model failed, using the template sentence: ${this.describe(error)}`);
        return { text: templateSentence(context), source: 'template', failed: true };
      }
      const sentence = cleanSentence(answer);
      problem = sentence
        ? (answerProblem(sentence, context) ?? '')
        : 'nothing usable (empty, too short, or technical words)';
      if (!problem) return { text: sentence!, source: 'llm' };
    }
    this.options.log?.(
      `the chat model's answer was not an explanation (${problem}) ${ANSWER_ATTEMPTS} times: using the template sentence`,
    );
    return { text: templateSentence(context), source: 'template', failed: true, rejected: true };
  }

  private describe(error: unknown): string {
    const status = (error as { status?: number }).status;
    const message = error instanceof Error ? error.message : String(error);
    const key = this.config.apiKey;
    const safe = key ? message.split(key).join('***') : message;
    if (status === 401 || status === 403) return `HTTP ${status}: check LLM_API_KEY`;
    return status ? `HTTP ${status}: ${safe}` : safe;
  }
}
