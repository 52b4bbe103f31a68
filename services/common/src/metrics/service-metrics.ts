import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Latency buckets (seconds) from sub-millisecond cache reads to slow model calls. */
const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/**
 * The Prometheus metrics of one service (prom-client): process metrics plus the families every service
 * shares, so that dashboards use one vocabulary. Each service fills the families that concern it.
 */
export class ServiceMetrics {
  readonly registry = new Registry();

  /** HTTP requests served (gateway, web). */
  readonly httpDuration = this.histogram(
    'retail_http_request_duration_seconds',
    'HTTP requests by method, route and status code',
    ['method', 'route', 'status'],
  );

  /** Requests between services (@nestjs/microservices). */
  readonly rpcDuration = this.histogram(
    'retail_rpc_duration_seconds',
    'Service-to-service requests by pattern and outcome',
    ['pattern', 'outcome'],
  );

  /** Jobs per queue and state, read when scraped. */
  readonly queueJobs = this.gauge('retail_queue_jobs', 'Jobs in each queue by state', ['queue', 'state']);

  /** Age of the oldest job waiting in each queue, read when scraped (0 when none waits). */
  readonly queueOldestWaiting = this.gauge(
    'retail_queue_oldest_waiting_seconds',
    'Age of the oldest waiting job in each queue',
    ['queue'],
  );

  /** Jobs finished by this process's workers. */
  readonly jobOutcomes = this.counter(
    'retail_queue_job_outcomes_total',
    'Jobs processed, by queue and outcome (completed, retried, failed)',
    ['queue', 'outcome'],
  );

  /** Calls to the models (embedding, chat; the offline providers included). */
  readonly modelCalls = this.counter(
    'retail_model_calls_total',
    'Model calls by kind (embedding, chat), model and outcome',
    ['kind', 'model', 'outcome'],
  );

  readonly modelDuration = this.histogram(
    'retail_model_call_duration_seconds',
    'Model call latency by kind, model and outcome',
    ['kind', 'model', 'outcome'],
  );

  /**
   * Explanation jobs by lane (interactive: a person waits; background: recommendation events) and outcome
   * (explained, or dropped by the background policy).
   */
  readonly explanationJobs = this.counter(
    'retail_explanation_jobs_total',
    'Explanation jobs by lane (interactive, background) and outcome (explained, dropped)',
    ['lane', 'outcome'],
  );

  /** Chat model calls by lane: what the shoppers cost against what background work costs. */
  readonly explanationModelCalls = this.counter(
    'retail_explanation_model_calls_total',
    'Chat model calls for explanations by lane (interactive, background) and outcome (ok, failed, rejected)',
    ['lane', 'outcome'],
  );

  /**
   * Sentences stored, by lane and outcome: llm, template (the offline writer), late (the template stood in at
   * the deadline of a waiting shopper), failed (the model failed; the template stands in for a while),
   * rejected (the model's answers were not an explanation; the template stands in for a while).
   */
  readonly explanationSentences = this.counter(
    'retail_explanation_sentences_total',
    'Explanation sentences stored by lane and outcome (llm, template, late, failed, rejected)',
    ['lane', 'outcome'],
  );

  /** Explanation cache lookups, one per product. */
  readonly cacheLookups = this.counter(
    'retail_explanation_cache_lookups_total',
    'Explanation cache lookups by result (hit, miss)',
    ['result'],
  );

  /** Kept recommendation lists computed by this process, by model and reason (request, customer, model). */
  readonly listsComputed = this.counter(
    'retail_recommendation_lists_computed_total',
    'Recommendation lists computed and kept, by model and reason (request: missing when asked; customer: their purchases changed; model: its vectors changed)',
    ['model', 'reason'],
  );

  /** Purchase lines posted through the API, by outcome (accepted, duplicate, dropped). */
  readonly purchaseLines = this.counter(
    'retail_purchase_lines_total',
    'Purchase lines posted through the API, by outcome (accepted, duplicate: of an invoice already recorded, dropped: by the cleaning rules)',
    ['outcome'],
  );

  /** From a posted invoice's commit to its customer's list computed with it. */
  readonly purchaseLag = this.histogram(
    'retail_purchase_to_list_seconds',
    "Seconds from a posted invoice's commit to its customer's recommendations computed with it",
    [],
    [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
  );

  constructor(readonly service: string) {
    this.registry.setDefaultLabels({ service });
    collectDefaultMetrics({ register: this.registry });
  }

  /** Times `work` as a model call. */
  async timeModelCall<T>(
    kind: 'embedding' | 'chat',
    model: string,
    work: () => Promise<T>,
    outcomeOf?: (result: T) => string,
  ): Promise<T> {
    const started = process.hrtime.bigint();
    let outcome = 'success';
    try {
      const result = await work();
      if (outcomeOf) outcome = outcomeOf(result);
      return result;
    } catch (error) {
      outcome = 'error';
      throw error;
    } finally {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      this.modelCalls.inc({ kind, model, outcome });
      this.modelDuration.observe({ kind, model, outcome }, seconds);
    }
  }

  private counter<L extends string>(name: string, help: string, labelNames: readonly L[]): Counter<L> {
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }

  private gauge<L extends string>(name: string, help: string, labelNames: readonly L[]): Gauge<L> {
    return new Gauge({ name, help, labelNames, registers: [this.registry] });
  }

  private histogram<L extends string>(
    name: string,
    help: string,
    labelNames: readonly L[],
    buckets = BUCKETS,
  ): Histogram<L> {
    return new Histogram({ name, help, labelNames, buckets, registers: [this.registry] });
  }

  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
