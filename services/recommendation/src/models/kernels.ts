import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import {
  CONTROL,
  CONTROL_BYTES,
  JOB,
  JOB_SLOTS,
  PAGE,
  SCRATCH,
  WORDS,
  type KernelThreadData,
} from './kernel-layout.js';
import type { Dense } from './linalg.js';

/**
 * The training's dense linear algebra in WebAssembly: the kernels of assembly/linalg.ts (float64, f64x2
 * SIMD, blocked and register-tiled products), compiled by `npm run build` into dist/models/linalg.wasm (the
 * same path seen from src/models and from dist/models). A LinalgWorkspace holds the matrices in one shared
 * linear memory; the products, the sparse sums and most of the orthonormalisation are shared between this
 * thread and helper threads (worker_threads running src/models/kernel-thread.ts on the same memory), which
 * claim blocks of rows one at a time (a thread slowed down by other work on the machine takes fewer). Each
 * element of a result is computed by one thread, in an order that does not depend on which thread or how
 * many: the results are the same bits with one thread or several.
 */

interface LinalgExports {
  WORK_BYTES: { value: number };
  choleskyBlock(a: number, lda: number, nb: number): number;
  invertLower(l: number, ldl: number, nb: number, out: number, ldo: number): void;
  finishTile(v: number, j0: number, count: number, length: number): void;
  packB(b: number, bs0: number, bs1: number, k: number, n: number, dst: number): void;
  packedBytes(k: number, n: number): number;
  runJob(job: number, thread: number): void;
}

const MAX_PAGES = 65_536;
const ALIGN = 64;
/** Block size of the Cholesky factorisation and of the triangular inverse. */
const NB = 128;
const MAX_THREADS = 8;
/** How long the first job waits for the helper threads to come up. */
const HELPER_START_MS = 5000;
/** Columns orthonormalised together (each earlier column is read once per tile and thread). */
const TILE = 16;

const JOB_GEMM = 1;
const JOB_SPARSE_ROWS = 2;
const JOB_GRAM_LOWER = 3;
const JOB_PROJECT_TILE = 4;

/** Zero blocks of a product's operands that are skipped (assembly/linalg.ts). */
const FULL = 0;
const A_LOWER = 1;
const A_UPPER = 2;

let compiled: WebAssembly.Module | undefined;

function kernelModule(): WebAssembly.Module {
  compiled ??= new WebAssembly.Module(
    readFileSync(new URL('../../dist/models/linalg.wasm', import.meta.url)),
  );
  return compiled;
}

const THREAD_SCRIPT = new URL('../../dist/models/kernel-thread.js', import.meta.url);

/** A binary sparse matrix in the workspace (CSR, int32): row r's column indices, ascending. */
export interface SparseRows {
  rows: number;
  cols: number;
  /** Byte addresses of the row pointers (rows + 1) and of the column indices. */
  ptr: number;
  idx: number;
}

/** The default number of threads: the machine's cores, at most MAX_THREADS. */
export function defaultThreads(): number {
  return Math.max(1, Math.min(MAX_THREADS, availableParallelism()));
}

export class LinalgWorkspace {
  private readonly memory: WebAssembly.Memory;
  private readonly kernels: LinalgExports;
  private readonly words: Int32Array;
  private readonly job: Float64Array;
  /** The job's claim counter: the next block of its rows (or vectors) a thread takes. */
  private readonly counter: Int32Array;
  private readonly workBytes: number;
  private readonly helpers: Worker[] = [];
  /** The shared buffers this workspace's matrices are views of (a new one each time memory grows). */
  private readonly buffers = new WeakSet<ArrayBufferLike>();
  private top: number;
  /** Memory above this address was never handed out: still zero. */
  private fresh: number;
  private sequence = 0;
  private closed = false;
  private started = false;

  /**
   * A workspace computing with `threads` threads: this one and threads - 1 helpers, started now; the first
   * job waits until they are up (HELPER_START_MS at most: one that is not is left out, this thread doing
   * its share).
   */
  constructor(threads = defaultThreads()) {
    if (!Number.isInteger(threads) || threads < 1 || threads > MAX_THREADS)
      throw new Error(`threads must be an integer from 1 to ${MAX_THREADS}, not ${threads}`);
    const module = kernelModule();
    this.memory = new WebAssembly.Memory({ initial: 2, maximum: MAX_PAGES, shared: true });
    this.kernels = new WebAssembly.Instance(module, { env: { memory: this.memory } })
      .exports as unknown as LinalgExports;
    this.workBytes = this.kernels.WORK_BYTES.value;
    this.top = SCRATCH + threads * this.workBytes;
    this.fresh = this.top;
    this.grow(this.top);
    this.words = new Int32Array(this.memory.buffer, CONTROL, CONTROL_BYTES / 4);
    this.job = new Float64Array(this.memory.buffer, JOB, JOB_SLOTS);
    this.counter = new Int32Array(this.memory.buffer, JOB + 16, 1);
    for (let helper = 1; helper < threads && existsSync(THREAD_SCRIPT); helper++) {
      try {
        const data: KernelThreadData = { module, memory: this.memory, helper };
        const worker = new Worker(THREAD_SCRIPT, { workerData: data });
        worker.unref();
        // A helper that fails to start is left out (the caller's thread does its share): log nothing here.
        worker.on('error', () => undefined);
        this.helpers.push(worker);
      } catch {
        break;
      }
    }
  }

  /** A zeroed rows x cols matrix in the workspace. */
  matrix(rows: number, cols: number): Dense {
    const at = this.allocate(rows * cols * 8);
    const data = new Float64Array(this.memory.buffer, at, rows * cols);
    return { rows, cols, data };
  }

  /** The binary matrix whose row r has ones in the columns rows[r] (strictly ascending, within 0 .. cols-1). */
  sparse(rows: readonly Int32Array[], cols: number): SparseRows {
    let nnz = 0;
    for (const row of rows) nnz += row.length;
    const ptrAt = this.allocate((rows.length + 1) * 4);
    const idxAt = this.allocate(Math.max(1, nnz) * 4);
    const ptr = new Int32Array(this.memory.buffer, ptrAt, rows.length + 1);
    const idx = new Int32Array(this.memory.buffer, idxAt, Math.max(1, nnz));
    let at = 0;
    rows.forEach((row, r) => {
      ptr[r] = at;
      let previous = -1;
      for (const c of row) {
        if (!(c >= 0 && c < cols)) throw new Error(`column ${c} of row ${r} is outside 0 .. ${cols - 1}`);
        if (c <= previous) throw new Error(`the columns of row ${r} are not ascending`);
        idx[at++] = previous = c;
      }
    });
    ptr[rows.length] = at;
    return { rows: rows.length, cols, ptr: ptrAt, idx: idxAt };
  }

  /** out = alpha A B (+ out when `accumulate`). */
  multiply(a: Dense, b: Dense, out: Dense, options: { alpha?: number; accumulate?: boolean } = {}): void {
    this.check(a.cols === b.rows && out.rows === a.rows && out.cols === b.cols, 'A B', a, b, out);
    this.product(a.rows, b.cols, a.cols, options.alpha ?? 1, a, a.cols, 1, b, b.cols, 1, out, options, FULL);
  }

  /** out = Aᵀ A. */
  crossProduct(a: Dense, out: Dense): void {
    this.check(out.rows === a.cols && out.cols === a.cols, 'Aᵀ A', a, a, out);
    this.product(a.cols, a.cols, a.rows, 1, a, 1, a.cols, a, a.cols, 1, out, {}, FULL);
  }

  /** out = M Y for a lower-triangular square M (its strict upper triangle must hold zeros). */
  lowerMultiply(m: Dense, y: Dense, out: Dense): void {
    this.check(
      m.rows === m.cols && y.rows === m.rows && out.rows === m.rows && out.cols === y.cols,
      'M Y',
      m,
      y,
      out,
    );
    this.product(m.rows, y.cols, m.rows, 1, m, m.cols, 1, y, y.cols, 1, out, {}, A_LOWER);
  }

  /** out = Mᵀ Y for a lower-triangular square M (its strict upper triangle must hold zeros). */
  lowerTransposedMultiply(m: Dense, y: Dense, out: Dense): void {
    this.check(
      m.rows === m.cols && y.rows === m.rows && out.rows === m.rows && out.cols === y.cols,
      'Mᵀ Y',
      m,
      y,
      out,
    );
    this.product(m.rows, y.cols, m.rows, 1, m, 1, m.cols, y, y.cols, 1, out, {}, A_UPPER);
  }

  /** out = S Y: row r of out is the sum of the rows of Y that row r of S names. */
  sparseMultiply(s: SparseRows, y: Dense, out: Dense): void {
    this.check(y.rows === s.cols && out.rows === s.rows && out.cols === y.cols, 'S Y', y, y, out);
    this.run(JOB_SPARSE_ROWS, [s.ptr, s.idx, s.rows, y.data.byteOffset, y.cols, out.data.byteOffset]);
  }

  /**
   * out = XᵀX on and below the diagonal (exact counts; above it, zeros) for a binary matrix X given both
   * ways: `x` (its rows, columns ascending) and `xt` (its transpose).
   */
  gramLower(x: SparseRows, xt: SparseRows, out: Dense): void {
    const n = x.cols;
    this.check(xt.rows === n && xt.cols === x.rows && out.rows === n && out.cols === n, 'XᵀX', out, out, out);
    this.run(JOB_GRAM_LOWER, [xt.ptr, xt.idx, x.ptr, x.idx, n, out.data.byteOffset]);
  }

  /**
   * Cholesky factorisation of a symmetric positive definite matrix in place (blocked, left-looking; only
   * its lower triangle is read): the lower triangle becomes L with A = L Lᵀ, the strict upper triangle
   * zero. Throws if A is not positive definite.
   */
  cholesky(a: Dense): void {
    const n = a.rows;
    this.check(a.cols === n, 'Cholesky', a, a, a);
    const base = a.data.byteOffset;
    const at = (i: number, j: number) => base + (i * n + j) * 8;
    for (let i = 0; i < n; i++) a.data.fill(0, i * n + i + 1, (i + 1) * n);
    this.scoped(() => {
      const inverse = this.matrix(NB, NB);
      const panel = this.matrix(n, NB);
      for (let j0 = 0; j0 < n; j0 += NB) {
        const nb = Math.min(NB, n - j0);
        const j1 = j0 + nb;
        // A[j0:, J] -= L[j0:, :j0] L[J, :j0]ᵀ
        if (j0 > 0)
          this.gemm(n - j0, nb, j0, -1, at(j0, 0), n, 1, at(j0, 0), 1, n, at(j0, j0), n, true, FULL);
        const pivot = this.kernels.choleskyBlock(at(j0, j0), n, nb);
        if (pivot >= 0) throw new Error(`the matrix is not positive definite (pivot ${j0 + pivot})`);
        if (j1 === n) break;
        // L[j1:, J] = A[j1:, J] L_JJ⁻ᵀ
        this.kernels.invertLower(at(j0, j0), n, nb, inverse.data.byteOffset, NB);
        const m = n - j1;
        for (let r = 0; r < m; r++)
          panel.data.set(a.data.subarray((j1 + r) * n + j0, (j1 + r) * n + j1), r * nb);
        this.gemm(
          m,
          nb,
          nb,
          1,
          panel.data.byteOffset,
          nb,
          1,
          inverse.data.byteOffset,
          1,
          NB,
          at(j1, j0),
          n,
          false,
          FULL,
        );
      }
    });
  }

  /**
   * The inverse of a lower-triangular matrix in place (blocked, from the last block column to the first:
   * M21 = -M22 L21 M11); its strict upper triangle must hold zeros, and still does.
   */
  invertLowerInPlace(a: Dense): void {
    const n = a.rows;
    this.check(a.cols === n, 'L⁻¹', a, a, a);
    const base = a.data.byteOffset;
    const at = (i: number, j: number) => base + (i * n + j) * 8;
    this.scoped(() => {
      const inverse = this.matrix(NB, NB);
      const panel = this.matrix(n, NB);
      for (let j0 = Math.floor((n - 1) / NB) * NB; j0 >= 0; j0 -= NB) {
        const nb = Math.min(NB, n - j0);
        const j1 = j0 + nb;
        this.kernels.invertLower(at(j0, j0), n, nb, inverse.data.byteOffset, NB);
        const m = n - j1;
        if (m > 0) {
          const t = panel.data.byteOffset;
          this.gemm(m, nb, nb, 1, at(j1, j0), n, 1, inverse.data.byteOffset, NB, 1, t, nb, false, FULL);
          this.gemm(m, nb, m, -1, at(j1, j1), n, 1, t, nb, 1, at(j1, j0), n, false, A_LOWER);
        }
        for (let r = 0; r < nb; r++)
          a.data.set(inverse.data.subarray(r * NB, r * NB + nb), (j0 + r) * n + j0);
      }
    });
  }

  /**
   * The inverse Cholesky factor of a symmetric positive definite matrix, in place: A = L Lᵀ, then
   * M = L⁻¹ (lower triangular, strict upper triangle zero), so that A⁻¹ = Mᵀ M.
   */
  inverseCholeskyFactor(a: Dense): void {
    this.cholesky(a);
    this.invertLowerInPlace(a);
  }

  /**
   * Orthonormalises the columns of `a` in place (modified Gram-Schmidt, run twice: "twice is enough" for
   * orthogonality to working precision). A column that vanishes is left at zero.
   */
  orthonormaliseColumns(a: Dense): void {
    this.own(a);
    const { rows, cols, data } = a;
    this.scoped(() => {
      const t = this.matrix(cols, rows);
      const td = t.data;
      for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) td[c * rows + r] = data[r * cols + c]!;
      for (let pass = 0; pass < 2; pass++)
        for (let j = 0; j < cols; j += TILE) {
          const count = Math.min(TILE, cols - j);
          if (j > 0) this.run(JOB_PROJECT_TILE, [td.byteOffset, j, count, rows]);
          this.kernels.finishTile(td.byteOffset, j, count, rows);
        }
      for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) data[r * cols + c] = td[c * rows + r]!;
    });
  }

  /** The threads a job started now would run on: this one and the helpers that are up. */
  readyThreads(): number {
    return 1 + this.readyHelpers().length;
  }

  /** Stops the helper threads; the workspace's memory goes with the last reference to it. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    Atomics.store(this.words, WORDS.stop, 1);
    Atomics.add(this.words, WORDS.sequence, 1);
    Atomics.notify(this.words, WORDS.sequence);
    for (const helper of this.helpers) void helper.terminate();
  }

  /** Runs `body` and frees what it allocated. */
  private scoped<T>(body: () => T): T {
    const top = this.top;
    try {
      return body();
    } finally {
      this.top = top;
    }
  }

  private product(
    m: number,
    n: number,
    k: number,
    alpha: number,
    a: Dense,
    as0: number,
    as1: number,
    b: Dense,
    bs0: number,
    bs1: number,
    out: Dense,
    options: { accumulate?: boolean },
    shape: number,
  ): void {
    const c = out.data.byteOffset;
    this.gemm(
      m,
      n,
      k,
      alpha,
      a.data.byteOffset,
      as0,
      as1,
      b.data.byteOffset,
      bs0,
      bs1,
      c,
      out.cols,
      options.accumulate ?? false,
      shape,
    );
  }

  private gemm(
    m: number,
    n: number,
    k: number,
    alpha: number,
    a: number,
    as0: number,
    as1: number,
    b: number,
    bs0: number,
    bs1: number,
    c: number,
    ldc: number,
    accumulate: boolean,
    shape: number,
  ): void {
    if (m === 0 || n === 0) return;
    this.scoped(() => {
      const packed = this.allocate(this.kernels.packedBytes(k, n), false);
      this.kernels.packB(b, bs0, bs1, k, n, packed);
      this.run(JOB_GEMM, [m, n, k, alpha, a, as0, as1, packed, c, ldc, accumulate ? 1 : 0, shape]);
    });
  }

  /** Runs a job on this thread and on every helper that is up, and waits for them. */
  private run(kind: number, args: number[]): void {
    if (this.closed) throw new Error('the linear algebra workspace is closed');
    if (!this.started) this.awaitHelpers();
    this.job[0] = kind;
    this.job[1] = SCRATCH;
    this.counter[0] = 0;
    args.forEach((value, i) => (this.job[i + 3] = value));
    const w = this.words;
    const ready = this.readyHelpers();
    if (ready.length === 0) {
      this.kernels.runJob(JOB, 0);
      return;
    }
    const sequence = ++this.sequence;
    for (const h of ready) Atomics.store(w, h * WORDS.perHelper + WORDS.assigned, sequence);
    Atomics.store(w, WORDS.sequence, sequence);
    Atomics.notify(w, WORDS.sequence);
    let failure: Error | undefined;
    try {
      this.kernels.runJob(JOB, 0);
    } catch (error) {
      failure = error instanceof Error ? error : new Error(String(error));
    }
    for (const h of ready) {
      const done = h * WORDS.perHelper + WORDS.done;
      for (let seen = Atomics.load(w, done); seen !== sequence; seen = Atomics.load(w, done))
        Atomics.wait(w, done, seen, 1000);
      if (Atomics.load(w, h * WORDS.perHelper + WORDS.failed) !== 0)
        failure ??= new Error('a linear algebra thread failed');
    }
    if (failure) throw failure;
  }

  /** Waits (HELPER_START_MS at most) until every helper thread is up. */
  private awaitHelpers(): void {
    this.started = true;
    const deadline = performance.now() + HELPER_START_MS;
    for (let h = 1; h <= this.helpers.length; h++) {
      const ready = h * WORDS.perHelper + WORDS.ready;
      while (Atomics.load(this.words, ready) === 0) {
        const left = deadline - performance.now();
        if (left <= 0) return;
        Atomics.wait(this.words, ready, 0, left);
      }
    }
  }

  private readyHelpers(): number[] {
    const ready: number[] = [];
    for (let h = 1; h <= this.helpers.length; h++)
      if (Atomics.load(this.words, h * WORDS.perHelper + WORDS.ready) === 1) ready.push(h);
    return ready;
  }

  /** `bytes` of the workspace's memory, zeroed unless `zero` is false. */
  private allocate(bytes: number, zero = true): number {
    const at = this.top;
    this.top = align(at + bytes);
    this.grow(this.top);
    if (zero && at < this.fresh)
      new Uint8Array(this.memory.buffer, at, Math.min(this.top, this.fresh) - at).fill(0);
    this.fresh = Math.max(this.fresh, this.top);
    return at;
  }

  private grow(bytes: number): void {
    const have = this.memory.buffer.byteLength;
    if (bytes > have) {
      const pages = Math.ceil((bytes - have) / PAGE);
      if (have / PAGE + pages > MAX_PAGES)
        throw new Error(`the training matrices need ${Math.ceil(bytes / 2 ** 20)} MiB, more than 4 GiB`);
      this.memory.grow(pages);
    }
    this.buffers.add(this.memory.buffer);
  }

  private own(m: Dense): void {
    if (!this.buffers.has(m.data.buffer))
      throw new Error('a matrix of another workspace (or none) was given');
  }

  private check(shapes: boolean, what: string, ...matrices: Dense[]): void {
    for (const m of matrices) this.own(m);
    if (!shapes)
      throw new Error(
        `${what}: shapes do not match (${matrices.map((m) => `${m.rows} x ${m.cols}`).join(', ')})`,
      );
  }
}

function align(bytes: number): number {
  return Math.ceil(bytes / ALIGN) * ALIGN;
}
