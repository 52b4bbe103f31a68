import { Inject, Injectable, Logger } from '@nestjs/common';
import type { OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  DeadlineError,
  servedModel,
  withDeadline,
  writerNamespace,
  type AppConfig,
  type CachedExplanation,
  type DescribedProduct,
  type ExplanationCacheRepository,
  type ExplanationJob,
  type ServiceMetrics,
} from '@retail/common';
import { APP_CONFIG, METRICS } from '@retail/common/nest';
import { ExplanationContextRepository } from './context/explanation-context.repository.js';
import { PurchaseInfluenceRepository } from './context/purchase-influence.repository.js';
import { PurchaseRanker } from './context/purchase-ranker.js';
import { EXPLANATION_CACHE, EXPLANATION_WRITER, MODEL_CALL_BUDGET } from './tokens.js';
import type {
  ExplanationContext,
  ExplanationLane,
  ExplanationWriter,
  WrittenExplanation,
} from './writers/explanation-writer.js';
import type { ModelCallBudget } from './writers/model-call-budget.js';
import { PROMPT_PURCHASES } from './writers/prompt.js';
import { templateSentence } from './writers/template-explainer.js';

/** How often the writer announces its namespace again (the gateway reads it; Redis may have been emptied). */
const ANNOUNCE_EVERY_MS = 30_000;
/** How often a process waiting for another's sentence looks whether it is there. */
const CLAIM_POLL_MS = 100;

export interface ExplanationJobResult {
  /** Sentences this job wrote (the model's, or the template where it stood in). */
  written: number;
  /** Sentences already in the cache. */
  cached: number;
  /** Sentences another job or process wrote meanwhile. */
  elsewhere: number;
  /** Interactive sentences for which the template stood in at the deadline. */
  late: number;
  /** Products that no longer exist. */
  unknown: number;
  /** True when the background policy dropped the event unwritten. */
  dropped: boolean;
}

type Outcome = 'written' | 'elsewhere' | 'late';

/** The purchases that explain one product, and how they relate to it. */
type Grounds = Pick<ExplanationContext, 'purchases' | 'ground'>;

/**
 * Writes the sentences of explanation jobs, for both lanes:
 * - interactive (a person waits): written at once, before anything of the background; if the model's
 *   sentence is not there by the deadline (EXPLANATION_WAIT_MS after the person asked), the grounded
 *   template sentence stands in, marked `failed`, and the model's replaces it when it comes;
 * - background (recommendation events): oldest first, within the background budget of model calls;
 *   events older than EXPLANATION_BACKGROUND_MAX_AGE_SECONDS are dropped unwritten (counted).
 * A sentence is grounded in the purchases that explain the pick: for a co-purchase or hybrid pick, the
 * purchases that pulled it up (bought together with it by other customers); otherwise, or when none did,
 * the purchases that resemble it. A cached sentence is never asked for again; a sentence is written once:
 * in this process by sharing the promise, across processes by a short Redis claim held only while the model
 * is being called.
 */
@Injectable()
export class ExplanationService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(ExplanationService.name);
  private readonly inFlight = new Map<string, Promise<'written' | 'elsewhere'>>();
  private readonly namespace: string;
  private readonly claimMs: number;
  /** The model the recommendation service serves (jobs from a poll do not say which model ranked them). */
  private readonly served: ReturnType<typeof servedModel>;
  private announcer: NodeJS.Timeout | undefined;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(EXPLANATION_WRITER) private readonly writer: ExplanationWriter,
    @Inject(EXPLANATION_CACHE) private readonly cache: ExplanationCacheRepository,
    @Inject(MODEL_CALL_BUDGET) private readonly budget: ModelCallBudget,
    private readonly contexts: ExplanationContextRepository,
    private readonly ranker: PurchaseRanker,
    private readonly influence: PurchaseInfluenceRepository,
    @Inject(METRICS) private readonly metrics: ServiceMetrics,
  ) {
    this.served = servedModel(config);
    this.namespace = writerNamespace(writer.name, this.served.kind);
    // Longer than the longest call (every retry timing out), so that a claim never lapses mid-call.
    this.claimMs = config.llm.timeoutMs * (config.llm.httpRetries + 1) + 30_000;
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.announce();
    this.announcer = setInterval(() => void this.announce(), ANNOUNCE_EVERY_MS);
    this.announcer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.announcer);
  }

  /** Whether the background policy drops an event shown at `createdAt` (ms) instead of writing it. */
  dropsBackground(createdAt: number): boolean {
    const { backgroundMaxAgeSeconds, backgroundRequestsPerMinute } = this.config.explanations;
    if (Date.now() - createdAt > backgroundMaxAgeSeconds * 1000) return true;
    return this.writer.callsModel && backgroundRequestsPerMinute === 0;
  }

  /** Writes the missing sentences of one job; `signal` aborts it (a shutdown: the job goes back to its queue). */
  async explain(
    job: ExplanationJob,
    lane: ExplanationLane,
    signal?: AbortSignal,
  ): Promise<ExplanationJobResult> {
    const result: ExplanationJobResult = {
      written: 0,
      cached: 0,
      elsewhere: 0,
      late: 0,
      unknown: 0,
      dropped: false,
    };
    const createdAt = Date.parse(job.created_at);
    if (lane === 'background' && this.dropsBackground(createdAt)) {
      this.metrics.explanationJobs.inc({ lane, outcome: 'dropped' });
      return { ...result, dropped: true };
    }
    const userId = job.user_id;
    const productIds = [...new Set(job.product_ids)];
    const cached = await this.cache.getMany(this.namespace, userId, productIds);
    const missing = productIds.filter((_, i) => !cached[i]);
    result.cached = productIds.length - missing.length;
    this.metrics.cacheLookups.inc({ result: 'hit' }, result.cached);
    this.metrics.cacheLookups.inc({ result: 'miss' }, missing.length);
    if (missing.length > 0) {
      const context = await this.contexts.load(Number(userId), missing);
      result.unknown = missing.length - context.products.length;
      const grounds = await this.grounds(
        Number(userId),
        context.products,
        context.purchases,
        job.model ?? this.served.name,
      );
      const deadline = lane === 'interactive' ? createdAt + this.config.explanations.waitMs : undefined;
      const outcomes = await Promise.all(
        context.products.map((product) => {
          const ground = grounds.get(product.product_id) ?? { purchases: [] };
          return lane === 'interactive'
            ? this.explainNow(userId, product, ground, deadline!, signal)
            : this.explainInBackground(userId, product, ground, signal);
        }),
      );
      for (const outcome of outcomes) result[outcome]++;
    }
    this.metrics.explanationJobs.inc({ lane, outcome: 'explained' });
    return result;
  }

  /**
   * The purchases that explain each product: under a co-purchase or hybrid model, those that pulled it up
   * (exact contributions to its score); where none did, or under the description model, the most similar.
   */
  private async grounds(
    userId: number,
    products: DescribedProduct[],
    purchases: DescribedProduct[],
    rankedBy: string,
  ): Promise<Map<string, Grounds>> {
    const similar = this.ranker.closest(products, purchases);
    const grounds = new Map<string, Grounds>(
      products.map((p) => [p.product_id, { purchases: similar.get(p.product_id) ?? [], ground: 'similar' }]),
    );
    if (rankedBy === this.served.descriptionModel) return grounds;
    const pulled = await this.influence.influences(
      userId,
      products.map((p) => p.product_id),
      rankedBy,
      PROMPT_PURCHASES,
    );
    for (const [productId, influences] of pulled) {
      if (influences.length > 0) {
        grounds.set(productId, {
          purchases: influences.map((i) => i.description),
          ground: 'bought-together',
        });
      }
    }
    return grounds;
  }

  /** A person waits: one write per sentence in this process; the template stands in at the deadline. */
  private explainNow(
    userId: string,
    product: DescribedProduct,
    ground: Grounds,
    deadline: number,
    signal: AbortSignal | undefined,
  ): Promise<Outcome> {
    const key = this.cache.key(this.namespace, userId, product.product_id);
    let work = this.inFlight.get(key);
    if (!work) {
      work = this.writeClaimed(userId, product, ground, 'interactive', signal).finally(() =>
        this.inFlight.delete(key),
      );
      this.inFlight.set(key, work);
    }
    return this.standInAtDeadline(work, userId, product, ground, deadline);
  }

  /** Resolves with the write, or at the deadline with the template stored where no sentence is yet. */
  private async standInAtDeadline(
    work: Promise<'written' | 'elsewhere'>,
    userId: string,
    product: DescribedProduct,
    ground: Grounds,
    deadline: number,
  ): Promise<Outcome> {
    try {
      return await withDeadline(work, Math.max(0, deadline - Date.now()), 'the sentence');
    } catch (error) {
      if (!(error instanceof DeadlineError)) throw error;
    }
    const standIn: CachedExplanation = {
      text: templateSentence({ productDescription: product.description, ...ground }),
      source: 'template',
      status: 'failed',
    };
    if (await this.cache.setIfAbsent(this.namespace, userId, product.product_id, standIn)) {
      this.metrics.explanationSentences.inc({ lane: 'interactive', outcome: 'late' });
      this.logger.debug(`user ${userId}, product ${product.product_id}: template stood in at the deadline`);
    }
    await work; // the job ends when the model's sentence (or its failure) is stored
    return 'late';
  }

  /**
   * Nobody waits: the sentence takes its turn in the background budget, and only when its turn comes does
   * it look again whether someone wrote it meanwhile or is writing it now (then it is left to them).
   */
  private async explainInBackground(
    userId: string,
    product: DescribedProduct,
    ground: Grounds,
    signal: AbortSignal | undefined,
  ): Promise<'written' | 'elsewhere'> {
    const turn = async (): Promise<'written' | 'elsewhere'> => {
      // After the wait for a budget turn, look again before claiming (without a model there was no wait:
      // explain() has just looked).
      if (this.writer.callsModel && (await this.cached(userId, product))) return 'elsewhere';
      return this.writeClaimed(userId, product, ground, 'background', signal);
    };
    return this.writer.callsModel ? this.budget.run('background', turn, signal) : turn();
  }

  /**
   * The one write of a sentence across processes: under a Redis claim, it looks again whether the sentence was
   * written between the first look and the claim, writes it, stores it and releases the claim. A person's
   * sentence waits while another process holds the claim (bounded by one call: it takes over if the claim lapses
   * unwritten) and takes its budget turn holding the claim; a background sentence held by another is left to
   * it (its budget turn came before the claim).
   */
  private async writeClaimed(
    userId: string,
    product: DescribedProduct,
    ground: Grounds,
    lane: ExplanationLane,
    signal: AbortSignal | undefined,
  ): Promise<'written' | 'elsewhere'> {
    while (!(await this.cache.claim(this.namespace, userId, product.product_id, this.claimMs))) {
      if (lane === 'background') return 'elsewhere';
      signal?.throwIfAborted();
      await sleep(CLAIM_POLL_MS);
      if (await this.cached(userId, product)) return 'elsewhere';
    }
    try {
      if (await this.cached(userId, product)) return 'elsewhere';
      const write = () => this.write(product, ground, signal);
      const written = await (lane === 'interactive' && this.writer.callsModel
        ? this.budget.run('interactive', write, signal)
        : write());
      await this.store(userId, product, written, lane);
      return 'written';
    } finally {
      await this.cache.release(this.namespace, userId, product.product_id);
    }
  }

  private async cached(userId: string, product: DescribedProduct): Promise<boolean> {
    return (await this.cache.getMany(this.namespace, userId, [product.product_id]))[0] !== undefined;
  }

  /** One sentence from the writer (a model call, timed), whoever's turn it is. */
  private write(
    product: DescribedProduct,
    ground: Grounds,
    signal: AbortSignal | undefined,
  ): Promise<WrittenExplanation> {
    return this.metrics.timeModelCall(
      'chat',
      this.writer.name,
      () => this.writer.write({ productDescription: product.description, ...ground }, signal),
      (result) => (result.failed ? 'failed' : result.source),
    );
  }

  private async store(
    userId: string,
    product: DescribedProduct,
    written: WrittenExplanation,
    lane: ExplanationLane,
  ): Promise<void> {
    await this.cache.set(this.namespace, userId, product.product_id, {
      text: written.text,
      source: written.source,
      status: written.failed ? 'failed' : 'ready',
    });
    const problem = written.rejected ? 'rejected' : written.failed ? 'failed' : undefined;
    this.metrics.explanationSentences.inc({ lane, outcome: problem ?? written.source });
    if (this.writer.callsModel) {
      this.metrics.explanationModelCalls.inc({ lane, outcome: problem ?? 'ok' });
    }
    if (written.failed)
      this.logger.warn(`user ${userId}, product ${product.product_id}: template sentence stored for now`);
  }

  private async announce(): Promise<void> {
    try {
      await this.cache.announceWriter(this.namespace);
    } catch (error) {
      this.logger.warn(`could not announce the writer: ${(error as Error).message}`);
    }
  }
}
