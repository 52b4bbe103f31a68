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
  readonly httpDuration = new Histogram({
    name: 'retail_http_request_duration_seconds',
    help: 'HTTP requests by method, route and status code',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: BUCKETS,
    registers: [this.registry],
  });

  /** Requests between services (@nestjs/microservices). */
  readonly rpcDuration = new Histogram({
    name: 'retail_rpc_duration_seconds',
    help: 'Service-to-service requests by pattern and outcome',
    labelNames: ['pattern', 'outcome'] as const,
    buckets: BUCKETS,
    registers: [this.registry],
  });

  /** Jobs per queue and state, read when scraped. */
  readonly queueJobs = new Gauge({
    name: 'retail_queue_jobs',
    help: 'Jobs in each queue by state',
    labelNames: ['queue', 'state'] as const,
    registers: [this.registry],
  });

  /** Age of the oldest job waiting in each queue, read when scraped (0 when none waits). */
  readonly queueOldestWaiting = new Gauge({
    name: 'retail_queue_oldest_waiting_seconds',
    help: 'Age of the oldest waiting job in each queue',
    labelNames: ['queue'] as const,
    registers: [this.registry],
  });

  /** Jobs finished by this process's workers. */
  readonly jobOutcomes = new Counter({
    name: 'retail_queue_job_outcomes_total',
    help: 'Jobs processed, by queue and outcome (completed, retried, failed)',
    labelNames: ['queue', 'outcome'] as const,
    registers: [this.registry],
  });

  /** Calls to the models (embedding, chat; the offline providers included). */
  readonly modelCalls = new Counter({
    name: 'retail_model_calls_total',
    help: 'Model calls by kind (embedding, chat), model and outcome',
    labelNames: ['kind', 'model', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly modelDuration = new Histogram({
    name: 'retail_model_call_duration_seconds',
    help: 'Model call latency by kind, model and outcome',
    labelNames: ['kind', 'model', 'outcome'] as const,
    buckets: BUCKETS,
    registers: [this.registry],
  });

  /**
   * Explanation jobs by lane (interactive: a person waits; background: recommendation events) and outcome
   * (explained, or dropped by the background policy).
   */
  readonly explanationJobs = new Counter({
    name: 'retail_explanation_jobs_total',
    help: 'Explanation jobs by lane (interactive, background) and outcome (explained, dropped)',
    labelNames: ['lane', 'outcome'] as const,
    registers: [this.registry],
  });

  /** Chat model calls by lane: what the shoppers cost against what background work costs. */
  readonly explanationModelCalls = new Counter({
    name: 'retail_explanation_model_calls_total',
    help: 'Chat model calls for explanations by lane (interactive, background) and outcome (ok, failed, rejected)',
    labelNames: ['lane', 'outcome'] as const,
    registers: [this.registry],
  });

  /**
   * Sentences stored, by lane and outcome: llm, template (the offline writer), late (the template stood in at
   * the deadline of a waiting shopper), failed (the model failed; the template stands in for a while),
   * rejected (the model's answers were not an explanation; the template stands in for a while).
   */
  readonly explanationSentences = new Counter({
    name: 'retail_explanation_sentences_total',
    help: 'Explanation sentences stored by lane and outcome (llm, template, late, failed, rejected)',
    labelNames: ['lane', 'outcome'] as const,
    registers: [this.registry],
  });

  /** Explanation cache lookups, one per product. */
  readonly cacheLookups = new Counter({
    name: 'retail_explanation_cache_lookups_total',
    help: 'Explanation cache lookups by result (hit, miss)',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  /** Kept recommendation lists computed by this process, by model and reason (request, customer, model). */
  readonly listsComputed = new Counter({
    name: 'retail_recommendation_lists_computed_total',
    help: 'Recommendation lists computed and kept, by model and reason (request: missing when asked; customer: their purchases changed; model: its vectors changed)',
    labelNames: ['model', 'reason'] as const,
    registers: [this.registry],
  });

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

  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
