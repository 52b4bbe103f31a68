import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type { Queue, Worker } from 'bullmq';
import {
  COPURCHASE_MODEL,
  QueueNames,
  closeWorker,
  createQueue,
  hybridModel,
  servedModel,
  type AppConfig,
  type Database,
  type ServiceMetrics,
  type TrainingJobData,
  type TrainingJobResult,
} from '@retail/common';
import { APP_CONFIG, DATABASE, METRICS } from '@retail/common/nest';
import { modelsAreStale } from './model-trainer.js';
import { createTrainingWorker, queueTraining } from './training-queue.js';
import { NO_PURCHASES, TrainingRepository } from './training.repository.js';

/**
 * Keeps the models learned from purchases trained, when one of them is served: the refresh planner asks
 * `queueIfStale` on each pass, which queues a `model-training` job when the models are missing, or when the
 * purchases (or the description vectors the hybrid is built over) changed since the last training and enough
 * came in since (RECOMMENDER_RETRAIN_AFTER_LINES posted lines, a new ingestion) or enough time went by
 * (RECOMMENDER_RETRAIN_AFTER_SECONDS); the old models serve meanwhile. The job id derives from the state, so
 * it is queued once. Between trainings, `followDescriptions` gives the hybrid the description vectors written
 * since (a new product is a candidate through its description part until a training gives it co-purchase
 * data). This process also runs the queue's worker (one job at a time, in worker threads).
 */
@Injectable()
export class ModelTrainingService implements OnModuleInit, OnApplicationShutdown {
  /** Whether the served model is learned from purchases (else this service does nothing). */
  readonly enabled: boolean;
  private readonly descriptionModel: string;
  private readonly logger = new Logger(ModelTrainingService.name);
  private queue: Queue<TrainingJobData, TrainingJobResult> | undefined;
  private worker: Worker<TrainingJobData, TrainingJobResult> | undefined;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(DATABASE) private readonly db: Database,
    @Inject(METRICS) private readonly metrics: ServiceMetrics,
  ) {
    const served = servedModel(config);
    this.descriptionModel = served.descriptionModel;
    this.enabled = served.kind !== 'description';
  }

  onModuleInit(): void {
    if (!this.enabled) return;
    this.queue = createQueue<TrainingJobData>(QueueNames.ModelTraining, this.config) as Queue<
      TrainingJobData,
      TrainingJobResult
    >;
    this.worker = createTrainingWorker(this.config, this.logger, this.metrics);
  }

  /** Queues a training job when the stored models are missing, or out of date enough (true if one was queued). */
  async queueIfStale(): Promise<boolean> {
    if (!this.queue) return false;
    const state = await modelsAreStale(this.db, this.descriptionModel);
    if (!state || state.purchasesDigest === NO_PURCHASES) return false;
    const { retrainAfterLines, retrainAfterSeconds } = this.config.recommender;
    const since = await new TrainingRepository(this.db).sinceTraining(COPURCHASE_MODEL);
    const due =
      since === undefined ||
      since.ingested ||
      since.lines >= retrainAfterLines ||
      since.seconds >= retrainAfterSeconds;
    if (!due) return false;
    await queueTraining(this.queue, state, this.descriptionModel, 'refresher');
    return true;
  }

  /** The hybrid's description part follows the description vectors written since its training. */
  async followDescriptions(): Promise<number> {
    if (!this.enabled) return 0;
    return new TrainingRepository(this.db).followDescriptions(
      hybridModel(this.descriptionModel),
      this.descriptionModel,
    );
  }

  async onApplicationShutdown(): Promise<void> {
    await closeWorker(this.worker);
    await this.queue?.close();
  }
}
