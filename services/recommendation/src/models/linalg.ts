import { EigenvalueDecomposition, Matrix } from 'ml-matrix';

/**
 * Linear algebra on row-major Float64Array matrices for the co-purchase model, beside the WebAssembly
 * kernels of kernels.ts (the large products, the Cholesky factor and its inverse, the orthonormalisation):
 * the transpose of a sparse matrix, the diagonal of the inverse, the small symmetric eigenproblem (a few
 * hundred rows: ml-matrix's), and the seeded random numbers.
 */

/** An n x m matrix stored row by row. */
export interface Dense {
  rows: number;
  cols: number;
  data: Float64Array;
}

export function dense(rows: number, cols: number): Dense {
  return { rows, cols, data: new Float64Array(rows * cols) };
}

/** The transpose of a binary matrix given as each row's column indices (ascending): each column's rows. */
export function transposeRows(rows: readonly Int32Array[], cols: number): Int32Array[] {
  const counts = new Int32Array(cols);
  for (const row of rows) for (const c of row) counts[c]!++;
  const out = Array.from(counts, (count) => new Int32Array(count));
  const filled = new Int32Array(cols);
  rows.forEach((row, r) => {
    for (const c of row) out[c]![filled[c]!++] = r;
  });
  return out;
}

/** The diagonal of Mᵀ M for a lower-triangular M: diag(A⁻¹) from the inverse Cholesky factor. */
export function inverseDiagonal(m: Float64Array, n: number): Float64Array {
  const d = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    const rk = k * n;
    for (let j = 0; j <= k; j++) d[j]! += m[rk + j]! ** 2;
  }
  return d;
}

/**
 * The eigenvectors of a small symmetric matrix for its `k` largest eigenvalues, as the columns of an
 * m x k matrix (ml-matrix's symmetric eigendecomposition), with the eigenvalues. Each vector's sign is fixed
 * (largest component positive) so that results do not depend on the solver's sign convention.
 */
export function topEigenvectors(s: Dense, k: number): { vectors: Dense; values: number[] } {
  const m = s.rows;
  const matrix = new Matrix(m, m);
  for (let i = 0; i < m; i++) for (let j = 0; j < m; j++) matrix.set(i, j, s.data[i * m + j]!);
  const eig = new EigenvalueDecomposition(matrix, { assumeSymmetric: true });
  const values = eig.realEigenvalues;
  const order = values.map((value, index) => ({ value, index })).sort((a, b) => b.value - a.value);
  const vectors = dense(m, k);
  const ev = eig.eigenvectorMatrix;
  for (let c = 0; c < k; c++) {
    const source = order[c]!.index;
    let largest = 0;
    for (let r = 0; r < m; r++) {
      const v = ev.get(r, source);
      if (Math.abs(v) > Math.abs(largest)) largest = v;
    }
    const sign = largest < 0 ? -1 : 1;
    for (let r = 0; r < m; r++) vectors.data[r * k + c] = sign * ev.get(r, source);
  }
  return { vectors, values: order.slice(0, k).map((o) => o.value) };
}

/** A small seeded generator (mulberry32) of standard normal numbers (Box-Muller): deterministic training. */
export function seededNormal(seed: number): () => number {
  let state = seed >>> 0;
  const uniform = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return () => {
    const u = 1 - uniform();
    const v = uniform();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  };
}
