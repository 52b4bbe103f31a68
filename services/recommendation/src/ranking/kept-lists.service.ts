import { Inject, Injectable } from '@nestjs/common';
import { servedModel, type AppConfig, type ServedModel, type ServiceMetrics } from '@retail/common';
import { APP_CONFIG, METRICS } from '@retail/common/nest';
import { RankingRepository, type ComputedList, type RankingKind } from './ranking.repository.js';

/** Why a list was computed (the label of retail_recommendation_lists_computed_total). */
export type ComputeReason = 'request' | 'customer' | 'model';

/**
 * The lists this service keeps: the served model's (RECOMMENDER_MODEL) for every customer, and the
 * description model's for the customers it stands in for (cold start, or the served model not trained).
 * Computing one is one pgvector query (RankingRepository); every list computed is counted, by model and reason.
 */
@Injectable()
export class KeptListsService {
  readonly served: ServedModel;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly repository: RankingRepository,
    @Inject(METRICS) private readonly metrics: ServiceMetrics,
  ) {
    this.served = servedModel(config);
  }

  /** How `model` ranks. */
  kindOf(model: string): RankingKind {
    return model === this.served.name && this.served.kind !== 'description' ? 'factors' : 'description';
  }

  /** Computes and keeps the customer's list in `model`; undefined for an unknown customer. */
  async compute(
    customerId: number,
    model: string,
    reason: ComputeReason,
    topN?: number,
  ): Promise<ComputedList | undefined> {
    const list = await this.repository.compute(customerId, model, this.kindOf(model), topN);
    if (list) this.metrics.listsComputed.inc({ model, reason });
    return list;
  }
}
