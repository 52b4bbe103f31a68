import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import {
  OutageLog,
  QueueNames,
  createQueue,
  withDeadline,
  type AppConfig,
  type ServiceMetrics,
} from '@retail/common';
import type { PurchasesAccepted } from '@retail/contracts';
import {
  cleanPostedLine,
  isMerchandise,
  summariseCustomer,
  type CleanLine,
  type PostedLine,
} from '@retail/ingestion/cleaning';
import { APP_CONFIG, METRICS } from '@retail/common/nest';
import { badRequest } from '../errors.js';
import { EmbeddingRequests } from '../products/embedding-requests.js';
import { queuePurchases, type RefreshQueue } from '../refresh/refresh-queue.js';
import { PurchasesRepository, type AppliedPurchases, type PostedProduct } from './purchases.repository.js';

/** How long queueing the work that follows a commit may wait for Redis (the lines are committed anyway). */
const QUEUE_DEADLINE_MS = 2_000;
/** Malformed lines named in one answer. */
const MAX_PROBLEMS = 10;

/**
 * The write path of purchases. A batch is cleaned line by line with the ingestion's own rules (a malformed
 * line refuses the whole batch, with every reason; a line the rules drop is reported and the rest go on),
 * and recorded in one transaction, idempotent by invoice (PurchasesRepository.record): the 202 means the lines
 * are committed. What follows is queued after the commit, as `recommendation-refresh` jobs: each customer's
 * invoices applied to their purchases and their list computed again (first, ahead of any model's refresh),
 * and embedding jobs for products new to the catalog. With Redis away the lines are accepted all the same:
 * the invoices stay marked unapplied, and the refresh planner queues them once Redis is back.
 */
@Injectable()
export class PurchasesService implements OnApplicationShutdown {
  private readonly logger = new Logger(PurchasesService.name);
  private readonly outage = new OutageLog(
    'Redis (the work after a purchase is queued when it is back)',
    this.logger,
  );
  private readonly refresh: RefreshQueue;
  /** The work after each commit still being queued (shutdown lets it finish, within the deadline). */
  private readonly followUps = new Set<Promise<void>>();

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    @Inject(METRICS) private readonly metrics: ServiceMetrics,
    private readonly repository: PurchasesRepository,
    private readonly embeddings: EmbeddingRequests,
  ) {
    this.refresh = createQueue(QueueNames.RecommendationRefresh, config, this.outage) as RefreshQueue;
  }

  async record(lines: readonly PostedLine[]): Promise<PurchasesAccepted> {
    const kept: CleanLine[] = [];
    const dropped: PurchasesAccepted['dropped'] = [];
    const malformed: string[] = [];
    lines.forEach((line, index) => {
      const outcome = cleanPostedLine(line, index);
      if (outcome.kind === 'kept') kept.push(outcome.line);
      else if (outcome.kind === 'dropped') dropped.push({ index, reason: outcome.rule });
      else malformed.push(`lines[${index}]: ${outcome.reason}`);
    });
    const customers = new Map<string, number>();
    for (const line of kept) {
      const first = customers.get(line.invoiceNo);
      if (first === undefined) customers.set(line.invoiceNo, line.customerId);
      else if (first !== line.customerId) {
        malformed.push(
          `invoice ${line.invoiceNo} names customers ${first} and ${line.customerId}: an invoice is one customer's`,
        );
        customers.set(line.invoiceNo, line.customerId);
      }
    }
    if (malformed.length > 0) {
      const more = malformed.length > MAX_PROBLEMS ? `; ${malformed.length - MAX_PROBLEMS} more` : '';
      throw badRequest(`nothing was recorded: ${malformed.slice(0, MAX_PROBLEMS).join('; ')}${more}`);
    }
    const recorded = await this.repository.record(kept, latestProducts(kept));
    const duplicates = recorded.duplicates.reduce((sum, invoice) => sum + invoice.lines, 0);
    const accepted = recorded.invoices.reduce((sum, invoice) => sum + invoice.lines, 0);
    this.metrics.purchaseLines.inc({ outcome: 'accepted' }, accepted);
    this.metrics.purchaseLines.inc({ outcome: 'duplicate' }, duplicates);
    this.metrics.purchaseLines.inc({ outcome: 'dropped' }, dropped.length);
    // The answer does not wait for Redis: what follows is queued in the background, and with Redis away the
    // refresh planner finds the unapplied invoices once it is back.
    const followUp = this.afterCommit(
      [...new Set(recorded.invoices.map((invoice) => invoice.customerId))],
      recorded.invoices[0]?.invoiceNo ?? '',
      recorded.newProducts.length > 0,
    ).finally(() => this.followUps.delete(followUp));
    this.followUps.add(followUp);
    return { accepted, duplicates, dropped };
  }

  /** Applies a customer's posted invoices to their purchases (the refresh worker, then their list). */
  apply(customerId: number): Promise<AppliedPurchases> {
    return this.repository.apply(customerId, summariseCustomer);
  }

  /**
   * Erases a customer's purchases (their lists go with them); false when nothing was ever known of them.
   * Erasing again answers true (the request may be repeated safely).
   */
  async erase(customerId: number): Promise<boolean> {
    const { known } = await this.repository.erase(customerId);
    return known;
  }

  async onApplicationShutdown(): Promise<void> {
    await withDeadline(Promise.all(this.followUps), QUEUE_DEADLINE_MS, 'Redis').catch(() => undefined);
    await withDeadline(this.refresh.close(), QUEUE_DEADLINE_MS, 'Redis').catch(() => undefined);
  }

  /** The work after the commit; with Redis away it is left to the planner's catch-up (logged once). */
  private async afterCommit(customers: number[], batch: string, newProducts: boolean): Promise<void> {
    try {
      if (newProducts) this.embeddings.requestMissing();
      if (customers.length === 0) return;
      await withDeadline(queuePurchases(this.refresh, customers, batch), QUEUE_DEADLINE_MS, 'Redis');
      this.outage.ok();
    } catch (error) {
      this.outage.failed(error);
    }
  }
}

/** One entry per product of the lines, with the description and price of its latest line. */
function latestProducts(lines: readonly CleanLine[]): PostedProduct[] {
  const products = new Map<string, PostedProduct>();
  for (const line of lines) {
    const known = products.get(line.productId);
    if (known && known.pricedAt > line.invoiceDate) continue;
    products.set(line.productId, {
      productId: line.productId,
      description: line.description,
      isMerchandise: isMerchandise(line.productId, line.description),
      unitPrice: line.unitPrice,
      pricedAt: line.invoiceDate,
    });
  }
  return [...products.values()];
}
