import { Injectable, type OnModuleInit } from '@nestjs/common';
import { UnrecoverableError, type Job } from 'bullmq';
import { QueueNames, explanationJobSchema, type ExplanationJob } from '@retail/common';
import { QueueConsumer } from '@retail/common/nest';
import { ExplanationService, type ExplanationJobResult } from './explanation.service.js';
import type { ExplanationLane } from './writers/explanation-writer.js';

/**
 * The BullMQ workers of both explanation queues: `explanations-interactive` (a person waits: as many jobs
 * at once as there are model slots) and `explanations` (recommendation events, oldest first, a couple at
 * a time: their model calls are paced by the background budget anyway). Jobs wait in their queue while
 * the service is down and are worked through when it comes back.
 */
@Injectable()
export class ExplanationWorker extends QueueConsumer implements OnModuleInit {
  constructor(private readonly explanations: ExplanationService) {
    super();
  }

  onModuleInit(): void {
    const { llm, explanations } = this.config;
    const interactive = Math.max(4, llm.concurrency);
    const background = Math.max(2, Math.floor(llm.concurrency / 4));
    this.consumeLane(QueueNames.ExplanationsInteractive, 'interactive', interactive);
    this.consumeLane(QueueNames.Explanations, 'background', background);
    const writer = llm.provider === 'openai' ? llm.model : 'template sentences';
    const policy =
      llm.provider === 'openai'
        ? `background: ${explanations.backgroundRequestsPerMinute} model calls/min, events older than ${explanations.backgroundMaxAgeSeconds} s dropped`
        : `background events older than ${explanations.backgroundMaxAgeSeconds} s dropped`;
    this.logger.log(
      `consuming "${QueueNames.ExplanationsInteractive}" (${interactive} at once) and "${QueueNames.Explanations}" ` +
        `(${background} at once) with ${writer}; ${policy}`,
    );
  }

  private consumeLane(
    queue: typeof QueueNames.Explanations | typeof QueueNames.ExplanationsInteractive,
    lane: ExplanationLane,
    concurrency: number,
  ): void {
    this.consume<ExplanationJob, ExplanationJobResult>({
      queue,
      concurrency,
      process: (job, signal) => this.explanations.explain(validJob(job), lane, signal),
      describe: (job, result) =>
        result.dropped
          ? `${lane} job ${job.id}, user ${job.data.user_id}: dropped (older than the background limit)`
          : `${lane} job ${job.id}, user ${job.data.user_id}: ${result.written} written, ${result.cached} cached, ` +
            `${result.elsewhere} elsewhere, ${result.late} late, ${result.unknown} unknown`,
    });
  }
}

/** The job's data, checked against the contract: a malformed job fails at once, without retries. */
function validJob(job: Job<ExplanationJob>): ExplanationJob {
  const parsed = explanationJobSchema.safeParse(job.data);
  if (!parsed.success) {
    throw new UnrecoverableError(
      `malformed explanation job: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  }
  return parsed.data;
}
