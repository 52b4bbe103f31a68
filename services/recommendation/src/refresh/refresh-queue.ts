import type { Queue } from 'bullmq';
import {
  REFRESH_CUSTOMER_JOB,
  REFRESH_SLICE_JOB,
  REFRESH_SLICE_PRIORITY,
  refreshCustomerJobId,
  refreshJobOptions,
  refreshSliceJobId,
  type RefreshJobData,
  type RefreshJobResult,
} from '@retail/common';

export type RefreshQueue = Queue<RefreshJobData, RefreshJobResult>;

/** A model's slice to refresh, as a job (planned at customer clock `clock`). */
export interface PlannedSlice {
  model: string;
  ranking: 'description' | 'factors';
  version: number;
  slice: number;
  mode: 'all' | 'existing';
}

/** Queues the refresh of customers' lists (ahead of every slice) and of model slices; repeats are no-ops. */
export async function queueRefresh(
  queue: RefreshQueue,
  customers: readonly { customerId: number; version: number }[],
  slices: readonly PlannedSlice[] = [],
  clock = 0,
): Promise<void> {
  if (customers.length === 0 && slices.length === 0) return;
  await queue.addBulk([
    ...customers.map(({ customerId, version }) => ({
      name: REFRESH_CUSTOMER_JOB,
      data: { kind: 'customer' as const, customer_id: customerId, version },
      opts: { ...refreshJobOptions(), jobId: refreshCustomerJobId(customerId, version) },
    })),
    ...slices.map((slice) => ({
      name: REFRESH_SLICE_JOB,
      data: { kind: 'slice' as const, ...slice },
      opts: {
        ...refreshJobOptions(),
        priority: REFRESH_SLICE_PRIORITY,
        jobId: refreshSliceJobId(slice.model, slice.version, clock, slice.slice),
      },
    })),
  ]);
}
