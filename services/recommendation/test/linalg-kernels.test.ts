import { afterEach, describe, expect, it } from '@jest/globals';
import { LinalgWorkspace } from '../src/models/kernels.js';
import { inverseDiagonal, transposeRows, type Dense } from '../src/models/linalg.js';

/**
 * The WebAssembly kernels against plain loops written as in a textbook, on small random matrices whose
 * sizes are not multiples of the kernels' blocks (4 x 4 tiles, 64-row blocks, 256-deep panels, 512-wide
 * panels, 128-wide Cholesky blocks), with one thread and with two.
 */

/** Deterministic uniform numbers in [-0.5, 0.5). */
function random(seed: number): () => number {
  let s = seed;
  return () => (s = (s * 16807) % 2147483647) / 2147483647 - 0.5;
}

function fill(
  ws: LinalgWorkspace,
  rows: number,
  cols: number,
  value: (r: number, c: number) => number,
): Dense {
  const m = ws.matrix(rows, cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) m.data[r * cols + c] = value(r, c);
  return m;
}

function randomMatrix(ws: LinalgWorkspace, rows: number, cols: number, seed: number): Dense {
  const next = random(seed);
  return fill(ws, rows, cols, () => next());
}

/** A random lower-triangular matrix (zeros above the diagonal) with a diagonal away from zero. */
function randomLower(ws: LinalgWorkspace, n: number, seed: number): Dense {
  const next = random(seed);
  return fill(ws, n, n, (r, c) => (c > r ? 0 : c === r ? 1 + next() : next()));
}

/** A random symmetric positive definite matrix: Rᵀ R + n I. */
function randomSpd(ws: LinalgWorkspace, n: number, seed: number): Dense {
  const next = random(seed);
  const r = Array.from({ length: n }, () => Array.from({ length: n }, () => next()));
  return fill(ws, n, n, (i, j) => {
    let s = i === j ? n : 0;
    for (let k = 0; k < n; k++) s += r[k]![i]! * r[k]![j]!;
    return s;
  });
}

/** op(A) B by the book: op(A)(i, p) = a(i, p). */
function reference(
  m: number,
  n: number,
  k: number,
  a: (i: number, p: number) => number,
  b: Dense,
): Float64Array {
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += a(i, p) * b.data[p * n + j]!;
      out[i * n + j] = s;
    }
  return out;
}

function maxDifference(x: ArrayLike<number>, y: ArrayLike<number>): number {
  expect(x.length).toBe(y.length);
  let d = 0;
  for (let i = 0; i < x.length; i++) d = Math.max(d, Math.abs(x[i]! - y[i]!));
  return d;
}

/** Cholesky by the book (Cholesky-Banachiewicz, on arrays of rows). */
function choleskyByTheBook(a: Dense): number[][] {
  const n = a.rows;
  const l = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  for (let i = 0; i < n; i++)
    for (let j = 0; j <= i; j++) {
      let s = a.data[i * n + j]!;
      for (let k = 0; k < j; k++) s -= l[i]![k]! * l[j]![k]!;
      l[i]![j] = i === j ? Math.sqrt(s) : s / l[j]![j]!;
    }
  return l;
}

/** Modified Gram-Schmidt, twice, on the columns of a row-major matrix (one column at a time). */
function orthonormaliseByTheBook(a: Dense): Float64Array {
  const { rows, cols } = a;
  const data = Float64Array.from(a.data);
  for (let pass = 0; pass < 2; pass++)
    for (let j = 0; j < cols; j++) {
      for (let p = 0; p < j; p++) {
        let d = 0;
        for (let r = 0; r < rows; r++) d += data[r * cols + p]! * data[r * cols + j]!;
        for (let r = 0; r < rows; r++) data[r * cols + j]! -= d * data[r * cols + p]!;
      }
      let norm = 0;
      for (let r = 0; r < rows; r++) norm += data[r * cols + j]! ** 2;
      norm = Math.sqrt(norm);
      for (let r = 0; r < rows; r++) data[r * cols + j] = norm > 1e-300 ? data[r * cols + j]! / norm : 0;
    }
  return data;
}

let open: LinalgWorkspace[] = [];

/** A workspace with `threads` threads, all of them up. */
async function workspace(threads: number): Promise<LinalgWorkspace> {
  const ws = new LinalgWorkspace(threads);
  open.push(ws);
  for (let waited = 0; ws.readyThreads() < threads; waited += 10) {
    if (waited > 10_000) throw new Error('the helper threads did not start');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return ws;
}

afterEach(() => {
  for (const ws of open) ws.close();
  open = [];
});

describe.each([1, 2])('the WebAssembly kernels on %i thread(s)', (threads) => {
  it('multiply A B as the textbook does, across tile, block and panel edges', async () => {
    const ws = await workspace(threads);
    for (const [m, k, n] of [
      [1, 1, 1],
      [5, 3, 7],
      [67, 263, 517],
      [130, 257, 6],
    ] as const) {
      const a = randomMatrix(ws, m, k, m + k);
      const b = randomMatrix(ws, k, n, k + n);
      const out = ws.matrix(m, n);
      out.data.fill(Number.NaN); // overwritten, not added to
      ws.multiply(a, b, out);
      const want = reference(m, n, k, (i, p) => a.data[i * k + p]!, b);
      expect(maxDifference(out.data, want)).toBeLessThan(1e-12);
      ws.multiply(a, b, out, { alpha: -2, accumulate: true });
      expect(
        maxDifference(
          out.data,
          want.map((v) => -v),
        ),
      ).toBeLessThan(1e-12);
    }
  });

  it('multiply by a lower-triangular M and by its transpose, reading only the lower triangle', async () => {
    const ws = await workspace(threads);
    for (const [n, w] of [
      [1, 1],
      [9, 5],
      [301, 37],
    ] as const) {
      const m = randomLower(ws, n, n);
      const y = randomMatrix(ws, n, w, w);
      const out = ws.matrix(n, w);
      ws.lowerMultiply(m, y, out);
      expect(
        maxDifference(
          out.data,
          reference(n, w, n, (i, p) => m.data[i * n + p]!, y),
        ),
      ).toBeLessThan(1e-12);
      ws.lowerTransposedMultiply(m, y, out);
      expect(
        maxDifference(
          out.data,
          reference(n, w, n, (i, p) => m.data[p * n + i]!, y),
        ),
      ).toBeLessThan(1e-12);
    }
  });

  it('computes Aᵀ A, exactly symmetric', async () => {
    const ws = await workspace(threads);
    const a = randomMatrix(ws, 300, 37, 3);
    const out = ws.matrix(37, 37);
    ws.crossProduct(a, out);
    expect(
      maxDifference(
        out.data,
        reference(37, 37, 300, (i, p) => a.data[p * 37 + i]!, a),
      ),
    ).toBeLessThan(1e-12);
    for (let i = 0; i < 37; i++)
      for (let j = 0; j < i; j++) expect(out.data[i * 37 + j]).toBe(out.data[j * 37 + i]);
  });

  it('factors a symmetric positive definite matrix as Cholesky does by the book, and inverts the factor', async () => {
    const ws = await workspace(threads);
    for (const n of [1, 7, 131, 259]) {
      const sample = Math.max(1, Math.floor(n / 13)); // rows checked against the inverse
      const a = randomSpd(ws, n, n);
      const original = Float64Array.from(a.data);
      const book = choleskyByTheBook(a);
      ws.cholesky(a);
      let upper = 0;
      let fromBook = 0;
      for (let i = 0; i < n; i++)
        for (let j = 0; j < n; j++)
          if (j > i) upper = Math.max(upper, Math.abs(a.data[i * n + j]!));
          else fromBook = Math.max(fromBook, Math.abs(a.data[i * n + j]! - book[i]![j]!));
      expect(upper).toBe(0);
      expect(fromBook).toBeLessThan(1e-12 * Math.sqrt(n));

      const l = Float64Array.from(a.data);
      ws.invertLowerInPlace(a);
      // M is lower triangular, and M L = I
      for (let i = 0; i < n; i++)
        for (let j = i + 1; j < n; j++) upper = Math.max(upper, Math.abs(a.data[i * n + j]!));
      expect(upper).toBe(0);
      let fromIdentity = 0;
      for (let i = 0; i < n; i += sample)
        for (let j = 0; j < n; j++) {
          let s = 0;
          for (let k = 0; k < n; k++) s += a.data[i * n + k]! * l[k * n + j]!;
          fromIdentity = Math.max(fromIdentity, Math.abs(s - (i === j ? 1 : 0)));
        }
      expect(fromIdentity).toBeLessThan(1e-12);
      // Mᵀ M = A⁻¹: (Mᵀ M A) = I, and inverseDiagonal gives its diagonal
      const diagonal = inverseDiagonal(a.data, n);
      for (let i = 0; i < n; i += sample) {
        const p = new Float64Array(n);
        for (let r = 0; r < n; r++)
          for (let k = 0; k < n; k++) p[k]! += a.data[r * n + i]! * a.data[r * n + k]!;
        expect(Math.abs(p[i]! - diagonal[i]!)).toBeLessThan(1e-15);
        for (let j = 0; j < n; j++) {
          let s = 0;
          for (let k = 0; k < n; k++) s += p[k]! * original[k * n + j]!;
          fromIdentity = Math.max(fromIdentity, Math.abs(s - (i === j ? 1 : 0)));
        }
      }
      expect(fromIdentity).toBeLessThan(1e-10);
    }
  });

  it('refuses a matrix that is not positive definite, naming the pivot', async () => {
    const ws = await workspace(threads);
    const a = fill(ws, 3, 3, (i, j) => [4, 2, 0, 2, 1, 0, 0, 0, 1][i * 3 + j]!);
    expect(() => ws.cholesky(a)).toThrow('the matrix is not positive definite (pivot 1)');
    const big = randomSpd(ws, 200, 5);
    big.data[150 * 200 + 150] = -1e6;
    expect(() => ws.inverseCholeskyFactor(big)).toThrow(/not positive definite \(pivot 150\)/);
  });

  it('orthonormalises columns as modified Gram-Schmidt twice does, a vanishing column left at zero', async () => {
    const ws = await workspace(threads);
    for (const [rows, cols] of [
      [1, 1],
      [13, 5],
      [301, 37],
    ] as const) {
      const a = randomMatrix(ws, rows, cols, rows * cols);
      if (cols > 3) for (let r = 0; r < rows; r++) a.data[r * cols + 3] = 0; // a zero column
      const want = orthonormaliseByTheBook(a);
      ws.orthonormaliseColumns(a);
      expect(maxDifference(a.data, want)).toBeLessThan(1e-12);
      if (cols > 3) for (let r = 0; r < rows; r++) expect(a.data[r * cols + 3]).toBe(0);
      // QᵀQ = I on the other columns
      for (let i = 0; i < cols; i++)
        for (let j = 0; j <= i; j++) {
          if (cols > 3 && (i === 3 || j === 3)) continue;
          let s = 0;
          for (let r = 0; r < rows; r++) s += a.data[r * cols + i]! * a.data[r * cols + j]!;
          expect(Math.abs(s - (i === j ? 1 : 0))).toBeLessThan(1e-12);
        }
    }
  });

  it('sums the rows a sparse binary matrix names, and its transpose', async () => {
    const ws = await workspace(threads);
    const next = random(7);
    const users = 150;
    const items = 41;
    const rows = Array.from({ length: users }, () =>
      Int32Array.from(Array.from({ length: items }, (_, i) => i).filter(() => next() > 0.3)),
    );
    rows[5] = new Int32Array(0); // a user with nothing
    const y = randomMatrix(ws, items, 9, 9);
    const out = ws.matrix(users, 9);
    ws.sparseMultiply(ws.sparse(rows, items), y, out);
    const dense = (u: number, i: number) => (rows[u]!.includes(i) ? 1 : 0);
    expect(maxDifference(out.data, reference(users, 9, items, dense, y))).toBeLessThan(1e-12);
    const back = ws.matrix(items, 9);
    ws.sparseMultiply(ws.sparse(transposeRows(rows, items), users), out, back);
    expect(
      maxDifference(
        back.data,
        reference(items, 9, users, (i, u) => dense(u, i), out),
      ),
    ).toBeLessThan(1e-12);
    expect(() => ws.sparse([Int32Array.of(0, items)], items)).toThrow(
      /column 41 of row 0 is outside 0 .. 40/,
    );
  });

  it('gives the same bits whatever the number of threads', async () => {
    const single = await workspace(1);
    const ws = await workspace(threads);
    const n = 333;
    const results = [single, ws].map((w) => {
      const a = randomSpd(w, n, 11);
      w.inverseCholeskyFactor(a);
      const y = randomMatrix(w, n, 45, 12);
      const out = w.matrix(n, 45);
      w.lowerTransposedMultiply(a, y, out);
      return [Float64Array.from(a.data), Float64Array.from(out.data)];
    });
    expect(results[1]).toEqual(results[0]);
  });
});

describe('the workspace', () => {
  it('refuses mismatched shapes and matrices it does not hold', async () => {
    const ws = await workspace(1);
    const a = ws.matrix(3, 4);
    expect(() => ws.multiply(a, ws.matrix(3, 4), ws.matrix(3, 4))).toThrow(
      /A B: shapes do not match \(3 x 4, 3 x 4, 3 x 4\)/,
    );
    const foreign: Dense = { rows: 4, cols: 4, data: new Float64Array(16) };
    expect(() => ws.multiply(a, foreign, ws.matrix(3, 4))).toThrow(/another workspace/);
    expect(() => new LinalgWorkspace(0)).toThrow(/threads must be an integer from 1/);
    ws.close();
    expect(() => ws.multiply(a, ws.matrix(4, 4), ws.matrix(3, 4))).toThrow(/closed/);
  });

  it('grows its memory for large matrices, and views stay valid', async () => {
    const ws = await workspace(1);
    const small = ws.matrix(2, 2);
    small.data.set([1, 2, 3, 4]);
    const large = ws.matrix(2000, 2000); // 32 MB: the memory grows
    large.data[large.data.length - 1] = 5;
    const out = ws.matrix(2, 2);
    ws.multiply(small, small, out);
    expect([...out.data]).toEqual([7, 10, 15, 22]);
  });
});

describe('the co-purchase counts', () => {
  it.each([1, 2])(
    'are the lower triangle of XᵀX, from the matrix both ways (%i thread(s))',
    async (threads) => {
      const ws = await workspace(threads);
      const next = random(17);
      const items = 131;
      const userItems = Array.from({ length: 90 }, () =>
        Int32Array.from(Array.from({ length: items }, (_, i) => i).filter(() => next() > 0.35)),
      );
      userItems[3] = Int32Array.of();
      const out = ws.matrix(items, items);
      out.data.fill(7); // replaced
      ws.gramLower(
        ws.sparse(userItems, items),
        ws.sparse(transposeRows(userItems, items), userItems.length),
        out,
      );
      const want = new Float64Array(items * items);
      for (const row of userItems)
        for (const a of row) for (const b of row) if (b <= a) want[a * items + b]! += 1;
      expect([...out.data]).toEqual([...want]);
    },
  );

  it('transposes a sparse binary matrix, and refuses columns out of order', async () => {
    const userItems = [Int32Array.of(0, 2, 3), Int32Array.of(2), Int32Array.of(), Int32Array.of(0, 3)];
    expect(transposeRows(userItems, 4).map((users) => [...users])).toEqual([[0, 3], [], [0, 1], [0, 3]]);
    const ws = await workspace(1);
    expect(() => ws.sparse([Int32Array.of(2, 1)], 4)).toThrow(/the columns of row 0 are not ascending/);
  });
});
