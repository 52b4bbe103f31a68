import { Module } from '@nestjs/common';
import { ExplanationContextRepository } from './context/explanation-context.repository.js';
import { PurchaseInfluenceRepository } from './context/purchase-influence.repository.js';
import { PurchaseRanker } from './context/purchase-ranker.js';
import { ExplanationService } from './explanation.service.js';
import { ExplanationWorker } from './explanation.worker.js';
import { explanationCache, explanationWriter, modelCallBudget } from './providers.js';

/**
 * The explanation service: the workers of both explanation lanes (interactive and background) and what
 * they need. Its process runs withCore(it).
 */
@Module({
  providers: [
    explanationWriter,
    modelCallBudget,
    explanationCache,
    PurchaseInfluenceRepository,
    ExplanationContextRepository,
    PurchaseRanker,
    ExplanationService,
    ExplanationWorker,
  ],
})
export class ExplanationModule {
  static readonly core = { applicationName: 'explanation', poolSize: 4 };
}
