import { Inject, Injectable, Logger } from '@nestjs/common';
import type { OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import pg from 'pg';
import { servedModel, type AppConfig } from '@retail/common';
import { APP_CONFIG } from '@retail/common/nest';
import { RankingEngine } from './ranking-engine.js';
import { RankingInputsRepository, type InputsRead } from './ranking-inputs.repository.js';

/**
 * The channel the triggers of migration 1732500000003 notify: `customers` (customers or user_items
 * changed), `products` (the catalog), `model:<name>` (a model's version moved: its vectors, or the catalog).
 */
export const INPUTS_CHANNEL = 'recommendation_inputs';
/** Wait before listening again after the notifications connection was lost, or reading again after a failure. */
const RETRY_MS = 1_000;

export interface InputsChange {
  customers: boolean;
  catalog: boolean;
  models: boolean;
}

interface Waiter {
  generation: number;
  resolve: () => void;
  reject: (error: Error) => void;
}

/**
 * Keeps the RankingEngine's inputs (catalog, purchases, the served model's and the description model's
 * vectors) equal to Postgres, the record.
 * - Consistency: before an answer, `ready()` reads recommendation_inputs (three rows whose versions move in
 *   the same transaction as any change of purchases, catalog or model vectors) and compares them with the
 *   versions the memory was read at; when they differ, the answer waits for the changed parts to be read
 *   again. So an answer never comes from inputs older than what Postgres held when the request arrived.
 *   Requests arriving together share one such read (at most one in flight).
 * - Speed: a dedicated connection LISTENs to INPUTS_CHANNEL, so that a change is read (and the lists
 *   recomputed by the refresher) as soon as it is committed, not when the next request notices it. The parts
 *   named are read again in one consistent snapshot (a model's vectors only when its version moved).
 */
@Injectable()
export class RankingStore implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(RankingStore.name);
  readonly engine: RankingEngine;
  private readonly descriptionModel: string;
  private readonly factorModel: { name: string; kind: 'copurchase' | 'hybrid' } | undefined;
  private listener: pg.Client | undefined;
  /** recommendation_inputs as of the last read of the inputs. */
  private inputs = new Map<string, number>();
  /** Requests waiting for the next check of recommendation_inputs, and whether one is in flight. */
  private checkWaiters: Waiter[] = [];
  private checking = false;
  private requested = 1;
  private applied = 0;
  private dirty: InputsChange = { customers: true, catalog: true, models: true };
  private loaded: { description: number | undefined; factor: number | undefined } = {
    description: undefined,
    factor: undefined,
  };
  private syncing: Promise<void> | undefined;
  private waiters: Waiter[] = [];
  private readonly subscribers: ((change: InputsChange) => void)[] = [];
  private retryTimer: NodeJS.Timeout | undefined;
  private listenTimer: NodeJS.Timeout | undefined;
  private readonly closed = new WeakSet<pg.Client>();
  private stopped = false;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly repository: RankingInputsRepository,
  ) {
    const served = servedModel(config);
    this.engine = new RankingEngine(served, config.recommender.minPurchases);
    this.descriptionModel = served.descriptionModel;
    this.factorModel = served.kind === 'description' ? undefined : { name: served.name, kind: served.kind };
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.listen();
    this.kick();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearTimeout(this.listenTimer);
    const listener = this.listener;
    this.listener = undefined;
    if (listener) {
      this.closed.add(listener);
      await listener.end().catch(() => undefined);
    }
    await this.syncing;
    const stopping = new Error('the recommendation service is stopping');
    this.rejectWaiters(stopping);
    for (const waiter of this.checkWaiters.splice(0)) waiter.reject(stopping);
  }

  /** Called after every change applied to the engine (the refresher recomputes the lists then). */
  subscribe(callback: (change: InputsChange) => void): void {
    this.subscribers.push(callback);
  }

  /** Whether the memory holds everything announced so far (the refresher computes lists only then). */
  isCurrent(): boolean {
    return this.applied >= this.requested;
  }

  /**
   * Resolves when the memory reflects everything Postgres held when this was called: after a read of
   * recommendation_inputs sent after the call (shared with the other requests waiting for one) found the
   * versions the memory was read at, or else after the changed parts were read again.
   */
  ready(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.checkWaiters.push({ generation: 0, resolve, reject });
      if (!this.checking) void this.check();
    });
  }

  private async check(): Promise<void> {
    this.checking = true;
    while (this.checkWaiters.length > 0 && !this.stopped) {
      const waiters = this.checkWaiters;
      this.checkWaiters = [];
      try {
        if (this.applied === 0) {
          // The first read began before any request could arrive: it covers them.
          for (const waiter of waiters) this.waiters.push({ ...waiter, generation: 1 });
          this.kick();
          continue;
        }
        const now = await this.repository.inputVersions();
        const changed: Partial<InputsChange> = {};
        for (const [name, version] of now) {
          if (this.inputs.get(name) === version) continue;
          if (name === 'customers') changed.customers = true;
          else if (name === 'products') changed.catalog = true;
          else changed.models = true;
        }
        if (this.inputs.size !== now.size)
          Object.assign(changed, { customers: true, catalog: true, models: true });
        if (this.applied >= this.requested && Object.keys(changed).length === 0) {
          for (const waiter of waiters) waiter.resolve();
          continue;
        }
        if (Object.keys(changed).length > 0) this.changed(changed);
        const generation = this.requested;
        for (const waiter of waiters) this.waiters.push({ ...waiter, generation });
        this.kick();
      } catch (error) {
        const failure = new Error(
          `the recommendation inputs could not be checked: ${error instanceof Error ? error.message : String(error)}`,
        );
        for (const waiter of waiters) waiter.reject(failure);
      }
    }
    this.checking = false;
  }

  private changed(change: Partial<InputsChange>): void {
    this.dirty = {
      customers: this.dirty.customers || (change.customers ?? false),
      catalog: this.dirty.catalog || (change.catalog ?? false),
      models: this.dirty.models || (change.models ?? false),
    };
    this.requested++;
    this.kick();
  }

  private kick(): void {
    if (this.syncing || this.stopped) return;
    this.syncing = this.sync().finally(() => {
      this.syncing = undefined;
      if (this.applied < this.requested && !this.stopped && !this.retryTimer) this.kick();
    });
  }

  private async sync(): Promise<void> {
    while (this.applied < this.requested && !this.stopped) {
      const generation = this.requested;
      const change = this.dirty;
      this.dirty = { customers: false, catalog: false, models: false };
      const started = Date.now();
      let read: InputsRead;
      try {
        read = await this.repository.read({
          catalog: change.catalog,
          customers: change.customers,
          descriptionModel: this.descriptionModel,
          ...(this.factorModel ? { factorModel: this.factorModel } : {}),
          loaded: this.loaded,
        });
      } catch (error) {
        this.dirty = {
          customers: this.dirty.customers || change.customers,
          catalog: this.dirty.catalog || change.catalog,
          models: this.dirty.models || change.models,
        };
        const message = error instanceof Error ? error.message : String(error);
        this.logger.warn(`reading the rankings' inputs failed, retrying in ${RETRY_MS} ms: ${message}`);
        this.rejectWaiters(new Error(`the rankings' inputs could not be read: ${message}`));
        this.retryTimer = setTimeout(() => {
          this.retryTimer = undefined;
          this.kick();
        }, RETRY_MS);
        this.retryTimer.unref();
        return;
      }
      const applied = this.apply(read);
      this.applied = generation;
      const ready = this.waiters.filter((w) => w.generation <= generation);
      this.waiters = this.waiters.filter((w) => w.generation > generation);
      for (const waiter of ready) waiter.resolve();
      if (applied.length > 0) {
        this.logger.log(`read ${applied.join(', ')} in ${Date.now() - started} ms`);
      }
      const models = read.description !== undefined || read.factor !== undefined;
      for (const subscriber of this.subscribers) {
        subscriber({ customers: change.customers, catalog: change.catalog, models });
      }
    }
  }

  private apply(read: InputsRead): string[] {
    const applied: string[] = [];
    if (read.catalog) {
      this.engine.setCatalog(read.catalog);
      applied.push(`${read.catalog.length} products`);
    }
    if (read.customers) {
      this.engine.setCustomers(read.customers.rows, read.customers.items);
      applied.push(`${read.customers.rows.length} customers`);
    }
    if (read.description !== undefined) {
      this.engine.setDescriptionModel(read.description ?? undefined);
      applied.push(
        read.description
          ? `${this.descriptionModel} v${read.versions.description} (${this.engine.layout('description')})`
          : `${this.descriptionModel} (no vectors)`,
      );
    }
    if (read.factor !== undefined) {
      this.engine.setFactorModel(read.factor ?? undefined);
      applied.push(
        read.factor
          ? `${this.factorModel!.name} v${read.versions.factor} (${this.engine.layout('served')})`
          : `${this.factorModel!.name} (not trained)`,
      );
    }
    this.loaded = { description: read.versions.description, factor: read.versions.factor };
    this.inputs = read.inputs;
    return applied;
  }

  private rejectWaiters(error: Error): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) waiter.reject(error);
  }

  /** Opens the notifications connection and LISTENs; on any failure, tries again later. */
  private async listen(): Promise<void> {
    if (this.stopped) return;
    const client = new pg.Client({
      connectionString: this.config.databaseUrl,
      application_name: 'recommendation-inputs',
      keepAlive: true,
      connectionTimeoutMillis: 5_000,
    });
    client.on('notification', (message) => this.onNotification(message.payload ?? ''));
    client.on('error', () => this.lost(client));
    client.on('end', () => this.lost(client));
    try {
      await client.connect();
      await client.query(`LISTEN ${INPUTS_CHANNEL}`);
    } catch (error) {
      this.logger.warn(
        `cannot listen for changes (${error instanceof Error ? error.message : String(error)}): ` +
          'changes are read when a request notices them, until it can',
      );
      this.lost(client);
      return;
    }
    if (this.stopped) {
      await client.end().catch(() => undefined);
      return;
    }
    this.listener = client;
    // Whatever changed while nobody listened (nothing the first time: the first read is under way).
    if (this.applied > 0) void this.ready().catch(() => undefined);
  }

  private lost(client: pg.Client): void {
    if (this.closed.has(client)) return;
    this.closed.add(client);
    client.end().catch(() => undefined);
    if (this.listener !== undefined && this.listener !== client) return;
    const wasListening = this.listener === client;
    this.listener = undefined;
    if (this.stopped) return;
    if (wasListening) {
      this.logger.warn('lost the notifications connection: changes are read when a request notices them');
    }
    this.listenTimer = setTimeout(() => void this.listen(), RETRY_MS);
    this.listenTimer.unref();
  }

  private onNotification(payload: string): void {
    if (payload === 'customers') this.changed({ customers: true });
    else if (payload === 'products') this.changed({ catalog: true });
    else if (payload.startsWith('model:')) {
      const model = payload.slice('model:'.length);
      if (model === this.descriptionModel || model === this.factorModel?.name) this.changed({ models: true });
    }
  }
}
