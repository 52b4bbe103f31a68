import { EigenvalueDecomposition, Matrix } from 'ml-matrix';

/**
 * Dense linear algebra on row-major Float64Array matrices, for the co-purchase model. The large kernels
 * (a 3,658 x 3,658 Cholesky inverse, products of that matrix with a few hundred columns) are written here on
 * flat typed arrays with contiguous inner loops; ml-matrix (array-of-rows, JAMA ports) takes 40 s for
 * `CholeskyDecomposition.solve(I)` at n = 1,500 where these loops take about 1 s. The small symmetric
 * eigenproblem (a few hundred rows) is ml-matrix's.
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

/**
 * Cholesky factorisation of a symmetric positive definite n x n matrix, in place: the lower triangle of
 * `a` becomes L with A = L Lᵀ (the strict upper triangle is left as it was). Throws if A is not positive
 * definite.
 */
export function choleskyInPlace(a: Float64Array, n: number): void {
  for (let j = 0; j < n; j++) {
    const rj = j * n;
    let d = a[rj + j]!;
    for (let k = 0; k < j; k++) d -= a[rj + k]! * a[rj + k]!;
    if (!(d > 0)) throw new Error(`the matrix is not positive definite (pivot ${j})`);
    d = Math.sqrt(d);
    a[rj + j] = d;
    const inv = 1 / d;
    for (let i = j + 1; i < n; i++) {
      const ri = i * n;
      let x = a[ri + j]!;
      for (let k = 0; k < j; k++) x -= a[ri + k]! * a[rj + k]!;
      a[ri + j] = x * inv;
    }
  }
}

/**
 * The inverse Cholesky factor of a symmetric positive definite matrix: A = L Lᵀ, then M = L⁻¹ (lower
 * triangular) by forward substitution row by row, so that A⁻¹ = Mᵀ M. About 2n³/3 floating-point operations;
 * returns M and overwrites `a`. (A⁻¹ itself is never formed: it is applied as Mᵀ (M Y).)
 */
export function inverseCholeskyFactor(a: Float64Array, n: number): Float64Array {
  choleskyInPlace(a, n);
  // Row i of M: M[i, :] = (e_i - sum_{k<i} L[i,k] M[k, :]) / L[i,i].
  const m = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    const ri = i * n;
    for (let k = 0; k < i; k++) {
      const l = a[ri + k]!;
      if (l === 0) continue;
      const rk = k * n;
      for (let j = 0; j <= k; j++) m[ri + j]! -= l * m[rk + j]!;
    }
    const inv = 1 / a[ri + i]!;
    for (let j = 0; j < i; j++) m[ri + j]! *= inv;
    m[ri + i] = inv;
  }
  return m;
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

/** M Y for a lower-triangular n x n matrix M. */
export function lowerMultiply(m: Float64Array, n: number, y: Dense): Dense {
  const w = y.cols;
  const out = dense(n, w);
  for (let i = 0; i < n; i++) {
    const ri = i * n;
    const oi = i * w;
    for (let k = 0; k <= i; k++) {
      const v = m[ri + k]!;
      if (v === 0) continue;
      const yk = k * w;
      for (let j = 0; j < w; j++) out.data[oi + j]! += v * y.data[yk + j]!;
    }
  }
  return out;
}

/** Mᵀ Y for a lower-triangular n x n matrix M. */
export function lowerTransposedMultiply(m: Float64Array, n: number, y: Dense): Dense {
  const w = y.cols;
  const out = dense(n, w);
  for (let k = 0; k < n; k++) {
    const rk = k * n;
    const yk = k * w;
    for (let i = 0; i <= k; i++) {
      const v = m[rk + i]!;
      if (v === 0) continue;
      const oi = i * w;
      for (let j = 0; j < w; j++) out.data[oi + j]! += v * y.data[yk + j]!;
    }
  }
  return out;
}

/** C = A Y for a square n x n matrix A and an n x m matrix Y. */
export function multiply(a: Float64Array, n: number, y: Dense): Dense {
  const m = y.cols;
  const out = dense(n, m);
  const yd = y.data;
  const od = out.data;
  for (let i = 0; i < n; i++) {
    const ri = i * n;
    const oi = i * m;
    for (let k = 0; k < n; k++) {
      const v = a[ri + k]!;
      if (v === 0) continue;
      const yk = k * m;
      for (let j = 0; j < m; j++) od[oi + j]! += v * yd[yk + j]!;
    }
  }
  return out;
}

/** C = Aᵀ Y for a square n x n matrix A and an n x m matrix Y. */
export function multiplyTransposed(a: Float64Array, n: number, y: Dense): Dense {
  const m = y.cols;
  const out = dense(n, m);
  const yd = y.data;
  const od = out.data;
  for (let k = 0; k < n; k++) {
    const rk = k * n;
    const yk = k * m;
    for (let i = 0; i < n; i++) {
      const v = a[rk + i]!;
      if (v === 0) continue;
      const oi = i * m;
      for (let j = 0; j < m; j++) od[oi + j]! += v * yd[yk + j]!;
    }
  }
  return out;
}

/** Xᵀ X for a binary users x items matrix given as each user's item indices. */
export function gram(userItems: readonly Int32Array[], n: number): Float64Array {
  const g = new Float64Array(n * n);
  for (const items of userItems) {
    for (let a = 0; a < items.length; a++) {
      const ra = items[a]! * n;
      for (let b = 0; b < items.length; b++) g[ra + items[b]!]! += 1;
    }
  }
  return g;
}

/** X Y for a binary users x items matrix (each user's item indices) and an items x m matrix Y. */
export function sparseMultiply(userItems: readonly Int32Array[], y: Dense): Dense {
  const m = y.cols;
  const out = dense(userItems.length, m);
  userItems.forEach((items, u) => {
    const ou = u * m;
    for (const item of items) {
      const yi = item * m;
      for (let j = 0; j < m; j++) out.data[ou + j]! += y.data[yi + j]!;
    }
  });
  return out;
}

/** Xᵀ W for a binary users x items matrix (each user's item indices) and a users x m matrix W. */
export function sparseMultiplyTransposed(userItems: readonly Int32Array[], n: number, w: Dense): Dense {
  const m = w.cols;
  const out = dense(n, m);
  userItems.forEach((items, u) => {
    const wu = u * m;
    for (const item of items) {
      const oi = item * m;
      for (let j = 0; j < m; j++) out.data[oi + j]! += w.data[wu + j]!;
    }
  });
  return out;
}

/** Aᵀ A for an n x m matrix A (m x m). */
export function crossProduct(a: Dense): Dense {
  const { rows, cols } = a;
  const out = dense(cols, cols);
  for (let r = 0; r < rows; r++) {
    const ar = r * cols;
    for (let i = 0; i < cols; i++) {
      const v = a.data[ar + i]!;
      if (v === 0) continue;
      const oi = i * cols;
      for (let j = 0; j <= i; j++) out.data[oi + j]! += v * a.data[ar + j]!;
    }
  }
  for (let i = 0; i < cols; i++) for (let j = 0; j < i; j++) out.data[j * cols + i] = out.data[i * cols + j]!;
  return out;
}

/**
 * Orthonormalises the columns of an n x m matrix in place (modified Gram-Schmidt, run twice: "twice is
 * enough" for orthogonality to working precision). A column that vanishes is left at zero.
 */
export function orthonormaliseColumns(a: Dense): void {
  const { rows, cols, data } = a;
  for (let pass = 0; pass < 2; pass++) {
    for (let j = 0; j < cols; j++) {
      for (let p = 0; p < j; p++) {
        let d = 0;
        for (let r = 0; r < rows; r++) d += data[r * cols + p]! * data[r * cols + j]!;
        if (d === 0) continue;
        for (let r = 0; r < rows; r++) data[r * cols + j]! -= d * data[r * cols + p]!;
      }
      let norm = 0;
      for (let r = 0; r < rows; r++) norm += data[r * cols + j]! ** 2;
      norm = Math.sqrt(norm);
      const scale = norm > 1e-300 ? 1 / norm : 0;
      for (let r = 0; r < rows; r++) data[r * cols + j]! *= scale;
    }
  }
}

/** C = A S for an n x m matrix A and an m x k matrix S. */
export function multiplyDense(a: Dense, s: Dense): Dense {
  const out = dense(a.rows, s.cols);
  const k = s.cols;
  for (let r = 0; r < a.rows; r++) {
    const ar = r * a.cols;
    const or = r * k;
    for (let p = 0; p < a.cols; p++) {
      const v = a.data[ar + p]!;
      if (v === 0) continue;
      const sp = p * k;
      for (let j = 0; j < k; j++) out.data[or + j]! += v * s.data[sp + j]!;
    }
  }
  return out;
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
