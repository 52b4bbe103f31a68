import { readFileSync } from 'node:fs';

/**
 * The kernels of assembly/scores.ts, compiled to WebAssembly with SIMD by `npm run build` (into
 * dist/ranking/scores.wasm: the same path seen from src/ranking and from dist/ranking).
 */
interface Kernels {
  dense8(matrix: number, rows: number, width: number, users: number, out: number): void;
  dense1(matrix: number, rows: number, width: number, user: number, out: number): void;
  sparseAdd(
    ptr: number,
    idx: number,
    val: number,
    rows: number,
    dims: number,
    users: number,
    count: number,
    out: number,
  ): void;
  sparse8(ptr: number, idx: number, val: number, rows: number, users: number, out: number): void;
}

let compiled: WebAssembly.Module | undefined;

function kernelModule(): WebAssembly.Module {
  compiled ??= new WebAssembly.Module(
    readFileSync(new URL('../../dist/ranking/scores.wasm', import.meta.url)),
  );
  return compiled;
}

/** Users scored per pass over the product rows (the dense kernel's width). */
export const BATCH = 8;
/** A dimension used by fewer products than this share is stored sparse (its products' values in CSR). */
const DENSE_SHARE = 0.2;
const PAGE = 65_536;

/**
 * One model's product vectors, laid out for exact scoring in WebAssembly linear memory: the dimensions most
 * products use in a dense float32 block, the others (e.g. the hashed n-gram dimensions of the local
 * description model, about 5 % used) as sparse rows. Scores are float64 inner products of the stored float32
 * vectors with float64 user vectors (exact products, float64 sums), so they equal a double-precision brute
 * force up to the order of the additions (about 1e-16 relative).
 */
export class ProductMatrix {
  readonly rows: number;
  readonly dims: number;
  /** Dimensions in the dense block, in order (the block is `width` floats wide, zero-padded). */
  private readonly denseDims: Int32Array;
  private readonly width: number;
  private readonly kernels: Kernels;
  private readonly memory: WebAssembly.Memory;
  private readonly at: {
    matrix: number;
    ptr: number;
    idx: number;
    val: number;
    denseUsers: number;
    sparseUsers: number;
    out: number;
  };
  private readonly hasSparse: boolean;

  /** `vectors`: `rows` vectors of `dims` floats, one after the other. */
  constructor(vectors: Float32Array, rows: number, dims: number) {
    if (vectors.length !== rows * dims)
      throw new Error(`expected ${rows} x ${dims} floats, got ${vectors.length}`);
    if (dims > 65_535) throw new Error(`at most 65,535 dimensions, got ${dims}`);
    this.rows = rows;
    this.dims = dims;
    const used = new Int32Array(dims);
    for (let i = 0; i < vectors.length; i++) if (vectors[i] !== 0) used[i % dims]!++;
    const dense: number[] = [];
    let nnz = 0;
    for (let d = 0; d < dims; d++) {
      if (used[d]! >= DENSE_SHARE * rows) dense.push(d);
      else nnz += used[d]!;
    }
    this.denseDims = Int32Array.from(dense);
    this.width = Math.ceil(dense.length / 4) * 4;
    this.hasSparse = dense.length < dims;
    const isDense = new Uint8Array(dims);
    for (const d of dense) isDense[d] = 1;

    // Layout: every region 16-byte aligned.
    let top = 16;
    const take = (bytes: number) => {
      const start = top;
      top += Math.ceil(bytes / 16) * 16;
      return start;
    };
    const at = {
      matrix: take(rows * this.width * 4),
      ptr: take((rows + 1) * 4),
      idx: take(nnz * 2),
      val: take(nnz * 4),
      denseUsers: take(BATCH * this.width * 8),
      sparseUsers: take(BATCH * dims * 8),
      out: take(BATCH * rows * 8),
    };
    this.at = at;
    this.memory = new WebAssembly.Memory({ initial: Math.ceil(top / PAGE) + 1 });
    const instance = new WebAssembly.Instance(kernelModule(), { env: { memory: this.memory } });
    this.kernels = instance.exports as unknown as Kernels;

    const buffer = this.memory.buffer;
    const matrix = new Float32Array(buffer, at.matrix, rows * this.width);
    const ptr = new Int32Array(buffer, at.ptr, rows + 1);
    const idx = new Uint16Array(buffer, at.idx, nnz);
    const val = new Float32Array(buffer, at.val, nnz);
    let q = 0;
    for (let p = 0; p < rows; p++) {
      const row = p * dims;
      for (let j = 0; j < dense.length; j++) matrix[p * this.width + j] = vectors[row + dense[j]!]!;
      ptr[p] = q;
      if (!this.hasSparse) continue;
      for (let d = 0; d < dims; d++) {
        const x = vectors[row + d]!;
        if (x !== 0 && isDense[d] === 0) {
          idx[q] = d;
          val[q] = x;
          q++;
        }
      }
    }
    ptr[rows] = q;
  }

  /** How the vectors were laid out (for logs). */
  describe(): string {
    return `${this.rows} products x ${this.dims} dimensions (${this.denseDims.length} dense, ${this.dims - this.denseDims.length} sparse)`;
  }

  /**
   * Scores every product for each of `users` (at most BATCH vectors of `dims` float64): `consume(k, scores)`
   * gets user k's scores, by row, in a view that is valid only during the call.
   */
  score(users: readonly Float64Array[], consume: (k: number, scores: Float64Array) => void): void {
    const count = users.length;
    if (count === 0) return;
    if (count > BATCH) throw new Error(`at most ${BATCH} users at a time`);
    const { at, rows, dims, width } = this;
    for (const u of users) {
      if (u.length !== dims) throw new Error(`a user vector has ${u.length} dimensions, not ${dims}`);
    }
    const buffer = this.memory.buffer;
    const out = new Float64Array(buffer, at.out, BATCH * rows);
    if (width > 0) {
      const denseUsers = new Float64Array(buffer, at.denseUsers, BATCH * width);
      denseUsers.fill(0);
      for (let k = 0; k < count; k++) {
        const u = users[k]!;
        for (let j = 0; j < this.denseDims.length; j++) denseUsers[k * width + j] = u[this.denseDims[j]!]!;
      }
      if (count === 1) this.kernels.dense1(at.matrix, rows, width, at.denseUsers, at.out);
      else this.kernels.dense8(at.matrix, rows, width, at.denseUsers, at.out);
    } else {
      out.fill(0);
    }
    if (this.hasSparse) {
      const sparseUsers = new Float64Array(buffer, at.sparseUsers, BATCH * dims);
      if (count === 1) {
        sparseUsers.set(users[0]!);
        this.kernels.sparseAdd(at.ptr, at.idx, at.val, rows, dims, at.sparseUsers, 1, at.out);
      } else {
        // Interleaved: dimension d of user k at d * BATCH + k (missing users are zeros).
        sparseUsers.fill(0);
        for (let k = 0; k < count; k++) {
          const u = users[k]!;
          for (let d = 0; d < dims; d++) sparseUsers[d * BATCH + k] = u[d]!;
        }
        this.kernels.sparse8(at.ptr, at.idx, at.val, rows, at.sparseUsers, at.out);
      }
    }
    for (let k = 0; k < count; k++) consume(k, out.subarray(k * rows, (k + 1) * rows));
  }
}
