import type { JobsOptions } from 'bullmq';
import { sha256Hex } from '../util/hash.js';

/**
 * A job of the `recommendation-refresh` queue: kept lists to compute again.
 * - `customer`: one customer's lists (the served model's, and the description model's when it stands in),
 *   because their purchases changed. Queued without a priority: BullMQ takes these before any slice.
 * - `slice`: the lists of a model in one slice of customers (customer_id / REFRESH_SLICE_WIDTH), because the
 *   model's vectors (or the catalog) changed. `version` is the model's version the slice was planned for: a
 *   slice planned for an older version than the model's now is skipped (a newer plan covers it).
 *   `mode` `all` computes the missing lists too; `existing` only recomputes the lists that exist (the
 *   description model's lists, kept for the customers it stands in for).
 */
export type RefreshJobData =
  | { kind: 'customer'; customer_id: number; version: number }
  | {
      kind: 'slice';
      model: string;
      /** How the model ranks (the recommendation service's RankingKind). */
      ranking: 'description' | 'factors';
      version: number;
      slice: number;
      mode: 'all' | 'existing';
    };

export interface RefreshJobResult {
  /** Lists computed by the job. */
  computed: number;
  /** True when the job found a newer plan in place and left the work to it. */
  superseded?: boolean;
}

/** Customer ids per slice: ids are dense (5 digits here), so a slice holds some 50 customers. */
export const REFRESH_SLICE_WIDTH = 64;

export const REFRESH_CUSTOMER_JOB = 'customer-lists';
export const REFRESH_SLICE_JOB = 'model-lists';
/** Slices wait behind customers' own jobs (BullMQ: jobs without a priority go first). */
export const REFRESH_SLICE_PRIORITY = 10;

/** The same customer at the same version: one job, whoever queues it. */
export function refreshCustomerJobId(customerId: number, version: number): string {
  return `customer-${customerId}-${version}`;
}

/**
 * The same slice of the same model version, planned at the same customer clock (the highest customer version
 * then): one job, whichever process plans it.
 */
export function refreshSliceJobId(model: string, version: number, clock: number, slice: number): string {
  return `slice-${sha256Hex(model).slice(0, 16)}-${version}-${clock}-${slice}`;
}

export function refreshJobOptions(): JobsOptions {
  return {
    attempts: 5,
    backoff: { type: 'exponential', delay: 1_000 },
    // Kept an hour, so that a plan made again by another process finds the job done and adds nothing.
    removeOnComplete: { age: 3600, count: 20_000 },
    removeOnFail: { age: 24 * 3600 },
  };
}
