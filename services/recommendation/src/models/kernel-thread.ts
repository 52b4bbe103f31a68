import { workerData } from 'node:worker_threads';
import { CONTROL, CONTROL_BYTES, JOB, WORDS, type KernelThreadData } from './kernel-layout.js';

/**
 * A helper thread of a LinalgWorkspace (kernels.ts): it instantiates the kernels on the workspace's shared
 * memory, says it is ready, then takes part in each job it is assigned until the workspace stops it.
 * Synchronous by design (Atomics.wait): it only ever computes or waits.
 */
const { module, memory, helper } = workerData as KernelThreadData;
const kernels = new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as {
  runJob(job: number, thread: number): void;
};
const words = new Int32Array(memory.buffer, CONTROL, CONTROL_BYTES / 4);
const mine = helper * WORDS.perHelper;

let seen = Atomics.load(words, WORDS.sequence);
Atomics.store(words, mine + WORDS.ready, 1);
Atomics.notify(words, mine + WORDS.ready);
while (Atomics.load(words, WORDS.stop) === 0) {
  Atomics.wait(words, WORDS.sequence, seen);
  seen = Atomics.load(words, WORDS.sequence);
  if (Atomics.load(words, WORDS.stop) !== 0) break;
  if (Atomics.load(words, mine + WORDS.assigned) !== seen) continue;
  try {
    kernels.runJob(JOB, helper);
  } catch {
    Atomics.store(words, mine + WORDS.failed, 1);
  }
  Atomics.store(words, mine + WORDS.done, seen);
  Atomics.notify(words, mine + WORDS.done);
}
