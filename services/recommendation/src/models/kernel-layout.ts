/**
 * Where a LinalgWorkspace (kernels.ts) and its helper threads (kernel-thread.ts) meet in the shared memory:
 * the first page is left to the module; then the control words (Int32), the job descriptor (float64 slots:
 * the kind, the scratch base, an int32 claim counter, the kernel's arguments: assembly/linalg.ts, runJob),
 * then each thread's scratch space.
 */
export const PAGE = 65_536;
export const CONTROL = PAGE;
export const CONTROL_BYTES = 1024;
export const JOB = CONTROL + CONTROL_BYTES;
export const JOB_SLOTS = 32;
export const SCRATCH = JOB + JOB_SLOTS * 8;

/**
 * The control words: the job sequence number the caller bumps to start a job, a stop flag, then per helper
 * h (1-based) at `perHelper` * h: ready, assigned (the sequence number of the job it takes part in), done
 * (the last sequence number it finished), failed.
 */
export const WORDS = {
  sequence: 0,
  stop: 1,
  ready: 0,
  assigned: 1,
  done: 2,
  failed: 3,
  perHelper: 8,
} as const;

/** What a helper thread is handed (workerData). */
export interface KernelThreadData {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  /** This helper's number, 1 .. helpers (the caller's thread is 0): it picks the thread's scratch space. */
  helper: number;
}
