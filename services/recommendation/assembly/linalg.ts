// AssemblyScript (compiled to WebAssembly with SIMD by `asc`, see ../package.json): the float64 kernels of
// the co-purchase model's training (src/models/kernels.ts drives them). Every matrix lives in the module's
// (imported, shared) linear memory; addresses are in bytes, strides in elements.
//
// The products follow the usual blocked scheme of fast matrix multiplication: B is packed once (packB) into
// panels of KC rows and NC columns made of NR-column strips; each block of MC rows of A is packed into
// MR-row strips, and a register-blocked micro-kernel computes MR x NR tiles of C from them with f64x2
// multiplies and adds (no fused multiply-add: every result is the same on every machine).
//
// A job (runJob) is run by every thread taking part; its rows (or vectors) come in blocks that the threads
// claim one at a time from a shared counter, so that a thread slowed down by others on the machine takes
// fewer. Each element of a result is computed by one thread, in an order that does not depend on which
// thread or how many: the results are the same bits with one thread or several.

const MR = 4;
const NR = 4;
const MC = 64;
const KC = 256;
const NC = 512;

/** Bytes of scratch space one thread needs: the packed A block and an edge tile. */
export const WORK_BYTES: i32 = (MC * KC + MR * NR) << 3;

/** Structure of a product's operands: zero blocks that are skipped (their memory must hold zeros). */
const FULL = 0;
/** op(A)(i, p) = 0 for p > i. */
const A_LOWER = 1;
/** op(A)(i, p) = 0 for p < i. */
const A_UPPER = 2;

function at(base: usize, row: i32, col: i32, s0: i32, s1: i32): usize {
  return base + ((<usize>row * <usize>s0 + <usize>col * <usize>s1) << 3);
}

/** Packs op(A)[i0 .. i0+mc, p0 .. p0+kc] into MR-row strips, each p's MR values together; pads with zeros. */
function packA(a: usize, as0: i32, as1: i32, i0: i32, mc: i32, p0: i32, kc: i32, dst: usize): void {
  for (let ir = 0; ir < mc; ir += MR) {
    const rows = min(MR, mc - ir);
    const strip = dst + ((<usize>ir * <usize>kc) << 3);
    if (rows == MR && as0 == 1) {
      // the MR values of one p are contiguous (A stored transposed)
      for (let p = 0; p < kc; p++) {
        const src = at(a, i0 + ir, p0 + p, as0, as1);
        const d = strip + ((<usize>p * MR) << 3);
        v128.store(d, v128.load(src));
        v128.store(d, v128.load(src, 16), 16);
      }
    } else if (rows == MR) {
      const r0 = at(a, i0 + ir, p0, as0, as1);
      const r1 = at(a, i0 + ir + 1, p0, as0, as1);
      const r2 = at(a, i0 + ir + 2, p0, as0, as1);
      const r3 = at(a, i0 + ir + 3, p0, as0, as1);
      const step = (<usize>as1) << 3;
      for (let p = 0; p < kc; p++) {
        const off = <usize>p * step;
        const d = strip + ((<usize>p * MR) << 3);
        store<f64>(d, load<f64>(r0 + off));
        store<f64>(d, load<f64>(r1 + off), 8);
        store<f64>(d, load<f64>(r2 + off), 16);
        store<f64>(d, load<f64>(r3 + off), 24);
      }
    } else {
      for (let p = 0; p < kc; p++) {
        const d = strip + ((<usize>p * MR) << 3);
        for (let r = 0; r < MR; r++)
          store<f64>(d + ((<usize>r) << 3), r < rows ? load<f64>(at(a, i0 + ir + r, p0 + p, as0, as1)) : 0);
      }
    }
  }
}

/** Packs B[p0 .. p0+kc, j0 .. j0+nc] into NR-column strips, each p's NR values together; pads with zeros. */
function packPanel(b: usize, bs0: i32, bs1: i32, p0: i32, kc: i32, j0: i32, nc: i32, dst: usize): void {
  for (let jr = 0; jr < nc; jr += NR) {
    const cols = min(NR, nc - jr);
    const strip = dst + ((<usize>jr * <usize>kc) << 3);
    if (cols == NR && bs1 == 1) {
      for (let p = 0; p < kc; p++) {
        const src = at(b, p0 + p, j0 + jr, bs0, bs1);
        const d = strip + ((<usize>p * NR) << 3);
        v128.store(d, v128.load(src));
        v128.store(d, v128.load(src, 16), 16);
      }
    } else {
      for (let p = 0; p < kc; p++) {
        const d = strip + ((<usize>p * NR) << 3);
        for (let c = 0; c < NR; c++)
          store<f64>(d + ((<usize>c) << 3), c < cols ? load<f64>(at(b, p0 + p, j0 + jr + c, bs0, bs1)) : 0);
      }
    }
  }
}

/** Bytes of B packed: k rows of n columns, padded to a multiple of NR. */
export function packedBytes(k: i32, n: i32): i32 {
  return (k * (((n + NR - 1) / NR) * NR)) << 3;
}

/** Where the panel (p0, j0) of B packed for k x n lies: the column blocks one after the other. */
function panelAt(packed: usize, k: i32, n: i32, p0: i32, j0: i32): usize {
  const nc = min(NC, n - j0);
  const padded = ((nc + NR - 1) / NR) * NR;
  return packed + ((<usize>j0 * <usize>k + <usize>p0 * <usize>padded) << 3);
}

/**
 * Packs B, k x n (element (p, j) at b + 8 (p bs0 + j bs1)), into `dst` (packedBytes(k, n)): every panel
 * of KC rows and NC columns, for gemm.
 */
export function packB(b: usize, bs0: i32, bs1: i32, k: i32, n: i32, dst: usize): void {
  for (let j0 = 0; j0 < n; j0 += NC)
    for (let p0 = 0; p0 < k; p0 += KC)
      packPanel(b, bs0, bs1, p0, min(KC, k - p0), j0, min(NC, n - j0), panelAt(dst, k, n, p0, j0));
}

function update(c: usize, acc: v128, alpha: v128): void {
  v128.store(c, f64x2.add(v128.load(c), f64x2.mul(alpha, acc)));
}

/**
 * C[MR x NR] += alpha * (packed A strip) (packed B strip) over kc; `rows`, `cols` < MR, NR at the edges.
 */
function micro(
  kc: i32,
  pa: usize,
  pb: usize,
  c: usize,
  ldc: i32,
  rows: i32,
  cols: i32,
  alpha: f64,
  edge: usize,
): void {
  let c00 = f64x2.splat(0);
  let c01 = c00;
  let c10 = c00;
  let c11 = c00;
  let c20 = c00;
  let c21 = c00;
  let c30 = c00;
  let c31 = c00;
  for (let p = 0; p < kc; p++) {
    const b0 = v128.load(pb);
    const b1 = v128.load(pb, 16);
    let a = v128.load64_splat(pa);
    c00 = f64x2.add(c00, f64x2.mul(a, b0));
    c01 = f64x2.add(c01, f64x2.mul(a, b1));
    a = v128.load64_splat(pa, 8);
    c10 = f64x2.add(c10, f64x2.mul(a, b0));
    c11 = f64x2.add(c11, f64x2.mul(a, b1));
    a = v128.load64_splat(pa, 16);
    c20 = f64x2.add(c20, f64x2.mul(a, b0));
    c21 = f64x2.add(c21, f64x2.mul(a, b1));
    a = v128.load64_splat(pa, 24);
    c30 = f64x2.add(c30, f64x2.mul(a, b0));
    c31 = f64x2.add(c31, f64x2.mul(a, b1));
    pa += MR << 3;
    pb += NR << 3;
  }
  const al = f64x2.splat(alpha);
  if (rows == MR && cols == NR) {
    const row = (<usize>ldc) << 3;
    update(c, c00, al);
    update(c + 16, c01, al);
    c += row;
    update(c, c10, al);
    update(c + 16, c11, al);
    c += row;
    update(c, c20, al);
    update(c + 16, c21, al);
    c += row;
    update(c, c30, al);
    update(c + 16, c31, al);
    return;
  }
  v128.store(edge, c00);
  v128.store(edge, c01, 16);
  v128.store(edge, c10, 32);
  v128.store(edge, c11, 48);
  v128.store(edge, c20, 64);
  v128.store(edge, c21, 80);
  v128.store(edge, c30, 96);
  v128.store(edge, c31, 112);
  for (let r = 0; r < rows; r++)
    for (let j = 0; j < cols; j++) {
      const o = c + ((<usize>r * <usize>ldc + <usize>j) << 3);
      store<f64>(o, load<f64>(o) + alpha * load<f64>(edge + ((<usize>(r * NR + j)) << 3)));
    }
}

/**
 * C (+)= alpha op(A) B, with op(A) m x k (element (i, p) at a + 8 (i as0 + p as1)), B k x n packed by packB
 * at `packed`, and C m x n row-major (row stride ldc). `accumulate` 0 overwrites C. `shape` names the zero
 * blocks skipped (FULL, A_LOWER, A_UPPER). Blocks of MC rows of C are claimed from `counter` (the costliest
 * first), with `work` (WORK_BYTES) to pack into.
 */
function gemm(
  m: i32,
  n: i32,
  k: i32,
  alpha: f64,
  a: usize,
  as0: i32,
  as1: i32,
  packed: usize,
  c: usize,
  ldc: i32,
  accumulate: i32,
  shape: i32,
  work: usize,
  counter: usize,
): void {
  const packedA = work;
  const edge = work + ((<usize>MC * KC) << 3);
  const blocks = (m + MC - 1) / MC;
  for (let claim = atomic.add<i32>(counter, 1); claim < blocks; claim = atomic.add<i32>(counter, 1)) {
    const i0 = (shape == A_LOWER ? blocks - 1 - claim : claim) * MC;
    const mc = min(MC, m - i0);
    if (!accumulate) for (let i = i0; i < i0 + mc; i++) memory.fill(at(c, i, 0, ldc, 1), 0, (<usize>n) << 3);
    for (let j0 = 0; j0 < n; j0 += NC) {
      const nc = min(NC, n - j0);
      for (let p0 = 0; p0 < k; p0 += KC) {
        const kc = min(KC, k - p0);
        if (shape == A_LOWER && p0 >= i0 + mc) break;
        if (shape == A_UPPER && p0 + kc <= i0) continue;
        const kEff = shape == A_LOWER ? min(kc, i0 + mc - p0) : kc;
        const panel = panelAt(packed, k, n, p0, j0);
        packA(a, as0, as1, i0, mc, p0, kEff, packedA);
        for (let jr = 0; jr < nc; jr += NR) {
          const pb = panel + ((<usize>jr * <usize>kc) << 3);
          const cols = min(NR, nc - jr);
          for (let ir = 0; ir < mc; ir += MR) {
            micro(
              kEff,
              packedA + ((<usize>ir * <usize>kEff) << 3),
              pb,
              at(c, i0 + ir, j0 + jr, ldc, 1),
              ldc,
              min(MR, mc - ir),
              cols,
              alpha,
              edge,
            );
          }
        }
      }
    }
  }
}

/**
 * Cholesky factorisation of the nb x nb block at `a` (row stride lda), in place: its lower triangle becomes
 * L with A = L Lᵀ, its strict upper triangle zero. Returns -1, or the first pivot that is not positive.
 */
export function choleskyBlock(a: usize, lda: i32, nb: i32): i32 {
  for (let j = 0; j < nb; j++) {
    const rj = at(a, j, 0, lda, 1);
    let d = load<f64>(rj + ((<usize>j) << 3));
    for (let k = 0; k < j; k++) {
      const v = load<f64>(rj + ((<usize>k) << 3));
      d -= v * v;
    }
    if (!(d > 0)) return j;
    d = Math.sqrt(d);
    store<f64>(rj + ((<usize>j) << 3), d);
    for (let k = j + 1; k < nb; k++) store<f64>(rj + ((<usize>k) << 3), 0);
    const inv = 1 / d;
    for (let i = j + 1; i < nb; i++) {
      const ri = at(a, i, 0, lda, 1);
      let x = load<f64>(ri + ((<usize>j) << 3));
      for (let k = 0; k < j; k++) x -= load<f64>(ri + ((<usize>k) << 3)) * load<f64>(rj + ((<usize>k) << 3));
      store<f64>(ri + ((<usize>j) << 3), x * inv);
    }
  }
  return -1;
}

/** The inverse of the nb x nb lower-triangular block at `l` into `out` (row stride ldo; upper part zero). */
export function invertLower(l: usize, ldl: i32, nb: i32, out: usize, ldo: i32): void {
  // Row i of M = L⁻¹: M[i, :] = (e_i - sum_{k<i} L[i,k] M[k, :]) / L[i,i].
  for (let i = 0; i < nb; i++) {
    const ri = at(l, i, 0, ldl, 1);
    const oi = at(out, i, 0, ldo, 1);
    memory.fill(oi, 0, (<usize>nb) << 3);
    for (let k = 0; k < i; k++) {
      const v = load<f64>(ri + ((<usize>k) << 3));
      const ok = at(out, k, 0, ldo, 1);
      for (let j = 0; j <= k; j++) {
        const o = oi + ((<usize>j) << 3);
        store<f64>(o, load<f64>(o) - v * load<f64>(ok + ((<usize>j) << 3)));
      }
    }
    const inv = 1 / load<f64>(ri + ((<usize>i) << 3));
    for (let j = 0; j < i; j++) {
      const o = oi + ((<usize>j) << 3);
      store<f64>(o, load<f64>(o) * inv);
    }
    store<f64>(oi + ((<usize>i) << 3), inv);
  }
}

/**
 * out = S Y for a binary sparse matrix S (CSR: row r's column indices are idx[ptr[r] .. ptr[r+1]], int32)
 * and a row-major Y with `cols` columns: row r of out is the sum of the rows of Y that row r of S names, in
 * that order. Blocks of MC rows are claimed from `counter`.
 */
function sparseRows(
  ptr: usize,
  idx: usize,
  rows: i32,
  y: usize,
  cols: i32,
  out: usize,
  counter: usize,
): void {
  const rowBytes = (<usize>cols) << 3;
  const pairs = rowBytes & ~(<usize>15);
  const blocks = (rows + MC - 1) / MC;
  for (let claim = atomic.add<i32>(counter, 1); claim < blocks; claim = atomic.add<i32>(counter, 1)) {
    for (let r = claim * MC; r < min(rows, (claim + 1) * MC); r++) {
      const o = out + <usize>r * rowBytes;
      memory.fill(o, 0, rowBytes);
      const end = load<i32>(ptr + ((<usize>(r + 1)) << 2));
      for (let t = load<i32>(ptr + ((<usize>r) << 2)); t < end; t++) {
        const src = y + <usize>load<i32>(idx + ((<usize>t) << 2)) * rowBytes;
        let c: usize = 0;
        for (; c < pairs; c += 16) v128.store(o + c, f64x2.add(v128.load(o + c), v128.load(src + c)));
        if (c < rowBytes) store<f64>(o + c, load<f64>(o + c) + load<f64>(src + c));
      }
    }
  }
}

/**
 * The lower triangle (diagonal included) of Xᵀ X into the n x n row-major `out` (zeros above it), for a binary
 * users x items matrix X given both ways (CSR, int32): each item's users (`itemPtr`, `itemIdx`) and each
 * user's items, ascending (`userPtr`, `userIdx`). Row a counts, for each user of a, the items b <= a they
 * bought. Blocks of MC rows are claimed from `counter`, the last (costliest) first.
 */
function gramLower(
  itemPtr: usize,
  itemIdx: usize,
  userPtr: usize,
  userIdx: usize,
  n: i32,
  out: usize,
  counter: usize,
): void {
  const blocks = (n + MC - 1) / MC;
  for (let claim = atomic.add<i32>(counter, 1); claim < blocks; claim = atomic.add<i32>(counter, 1)) {
    const a0 = (blocks - 1 - claim) * MC;
    for (let a = a0; a < min(n, a0 + MC); a++) {
      const row = at(out, a, 0, n, 1);
      memory.fill(row, 0, (<usize>n) << 3);
      const end = load<i32>(itemPtr + ((<usize>(a + 1)) << 2));
      for (let t = load<i32>(itemPtr + ((<usize>a) << 2)); t < end; t++) {
        const user = load<i32>(itemIdx + ((<usize>t) << 2));
        const last = load<i32>(userPtr + ((<usize>(user + 1)) << 2));
        for (let k = load<i32>(userPtr + ((<usize>user) << 2)); k < last; k++) {
          const b = load<i32>(userIdx + ((<usize>k) << 2));
          if (b > a) break;
          const o = row + ((<usize>b) << 3);
          store<f64>(o, load<f64>(o) + 1);
        }
      }
    }
  }
}

function dot(x: usize, y: usize, bytes: usize): f64 {
  const pairs = bytes & ~(<usize>15);
  let acc = f64x2.splat(0);
  let i: usize = 0;
  for (; i < pairs; i += 16) acc = f64x2.add(acc, f64x2.mul(v128.load(x + i), v128.load(y + i)));
  let s = f64x2.extract_lane(acc, 0) + f64x2.extract_lane(acc, 1);
  if (i < bytes) s += load<f64>(x + i) * load<f64>(y + i);
  return s;
}

/** y += f x over `bytes` bytes of float64. */
function axpy(f: f64, x: usize, y: usize, bytes: usize): void {
  const pairs = bytes & ~(<usize>15);
  const fv = f64x2.splat(f);
  let i: usize = 0;
  for (; i < pairs; i += 16) v128.store(y + i, f64x2.add(v128.load(y + i), f64x2.mul(fv, v128.load(x + i))));
  if (i < bytes) store<f64>(y + i, load<f64>(y + i) + f * load<f64>(x + i));
}

/**
 * The four vectors at w (one after the other, `bytes` apart) lose their components along the unit vector
 * at u: for each, d = u . w (as dot computes it), then w -= d u (as axpy does), reading u once for four.
 */
function project4(u: usize, w: usize, bytes: usize): void {
  const pairs = bytes & ~(<usize>15);
  const w1 = w + bytes;
  const w2 = w1 + bytes;
  const w3 = w2 + bytes;
  let a0 = f64x2.splat(0);
  let a1 = a0;
  let a2 = a0;
  let a3 = a0;
  let i: usize = 0;
  for (; i < pairs; i += 16) {
    const x = v128.load(u + i);
    a0 = f64x2.add(a0, f64x2.mul(x, v128.load(w + i)));
    a1 = f64x2.add(a1, f64x2.mul(x, v128.load(w1 + i)));
    a2 = f64x2.add(a2, f64x2.mul(x, v128.load(w2 + i)));
    a3 = f64x2.add(a3, f64x2.mul(x, v128.load(w3 + i)));
  }
  let d0 = f64x2.extract_lane(a0, 0) + f64x2.extract_lane(a0, 1);
  let d1 = f64x2.extract_lane(a1, 0) + f64x2.extract_lane(a1, 1);
  let d2 = f64x2.extract_lane(a2, 0) + f64x2.extract_lane(a2, 1);
  let d3 = f64x2.extract_lane(a3, 0) + f64x2.extract_lane(a3, 1);
  if (i < bytes) {
    const x = load<f64>(u + i);
    d0 += x * load<f64>(w + i);
    d1 += x * load<f64>(w1 + i);
    d2 += x * load<f64>(w2 + i);
    d3 += x * load<f64>(w3 + i);
  }
  const f0 = f64x2.splat(-d0);
  const f1 = f64x2.splat(-d1);
  const f2 = f64x2.splat(-d2);
  const f3 = f64x2.splat(-d3);
  for (i = 0; i < pairs; i += 16) {
    const x = v128.load(u + i);
    v128.store(w + i, f64x2.add(v128.load(w + i), f64x2.mul(f0, x)));
    v128.store(w1 + i, f64x2.add(v128.load(w1 + i), f64x2.mul(f1, x)));
    v128.store(w2 + i, f64x2.add(v128.load(w2 + i), f64x2.mul(f2, x)));
    v128.store(w3 + i, f64x2.add(v128.load(w3 + i), f64x2.mul(f3, x)));
  }
  if (i < bytes) {
    const x = load<f64>(u + i);
    store<f64>(w + i, load<f64>(w + i) - d0 * x);
    store<f64>(w1 + i, load<f64>(w1 + i) - d1 * x);
    store<f64>(w2 + i, load<f64>(w2 + i) - d2 * x);
    store<f64>(w3 + i, load<f64>(w3 + i) - d3 * x);
  }
}

/**
 * Modified Gram-Schmidt on vectors of `length` float64 stored one after the other at `v`, a tile of `count`
 * vectors from j0 at a time (those before j0 are done: orthonormal), in two steps: projectTile, then
 * finishTile. Each vector loses its components along every earlier vector, taken in order, then is scaled
 * to unit length (left at zero if it vanishes); the caller runs the tiles in order, twice ("twice is
 * enough" for orthogonality to working precision). Every vector sees the same operations in the same order
 * as with one vector at a time; each earlier vector is read once per four vectors of the tile.
 *
 * projectTile: the tile's vectors lose their components along the vectors before j0; groups of four of
 * them are claimed from `counter`.
 */
function projectTile(v: usize, j0: i32, count: i32, length: i32, counter: usize): void {
  const bytes = (<usize>length) << 3;
  const tile = v + <usize>j0 * bytes;
  const groups = (count + 3) / 4;
  for (let claim = atomic.add<i32>(counter, 1); claim < groups; claim = atomic.add<i32>(counter, 1)) {
    const t = claim * 4;
    for (let p = 0; p < j0; p++) {
      const vp = v + <usize>p * bytes;
      if (t + 4 <= count) {
        project4(vp, tile + <usize>t * bytes, bytes);
        continue;
      }
      for (let r = t; r < count; r++) {
        const vj = tile + <usize>r * bytes;
        const d = dot(vp, vj, bytes);
        if (d != 0) axpy(-d, vp, vj, bytes);
      }
    }
  }
}

/** finishTile: the tile's vectors lose their components along the earlier ones of the tile, in order. */
export function finishTile(v: usize, j0: i32, count: i32, length: i32): void {
  const bytes = (<usize>length) << 3;
  const tile = v + <usize>j0 * bytes;
  for (let t = 0; t < count; t++) {
    const vj = tile + <usize>t * bytes;
    for (let p = 0; p < t; p++) {
      const vp = tile + <usize>p * bytes;
      const d = dot(vp, vj, bytes);
      if (d != 0) axpy(-d, vp, vj, bytes);
    }
    const norm = Math.sqrt(dot(vj, vj, bytes));
    const scale = norm > 1e-300 ? 1 / norm : 0;
    const s = f64x2.splat(scale);
    const pairs = bytes & ~(<usize>15);
    let i: usize = 0;
    for (; i < pairs; i += 16) v128.store(vj + i, f64x2.mul(s, v128.load(vj + i)));
    if (i < bytes) store<f64>(vj + i, scale * load<f64>(vj + i));
  }
}

/**
 * What a job descriptor asks for: float64 slots, the kind, the scratch base, an int32 counter (the next
 * block to claim, zero when the job starts), then the kernel's arguments.
 */
const JOB_GEMM = 1;
const JOB_SPARSE_ROWS = 2;
const JOB_GRAM_LOWER = 3;
const JOB_PROJECT_TILE = 4;

function arg(job: usize, i: i32): f64 {
  return load<f64>(job + ((<usize>(i + 3)) << 3));
}

function iarg(job: usize, i: i32): i32 {
  return <i32>arg(job, i);
}

function parg(job: usize, i: i32): usize {
  return <usize>arg(job, i);
}

/**
 * Runs the job described at `job` on this thread, until no block is left to claim; `thread` (0 .. threads-1)
 * picks its scratch space, at base + thread WORK_BYTES.
 */
export function runJob(job: usize, thread: i32): void {
  const kind = <i32>load<f64>(job);
  const work = <usize>load<f64>(job, 8) + <usize>thread * <usize>WORK_BYTES;
  const counter = job + 16;
  if (kind == JOB_GEMM)
    gemm(
      iarg(job, 0),
      iarg(job, 1),
      iarg(job, 2),
      arg(job, 3),
      parg(job, 4),
      iarg(job, 5),
      iarg(job, 6),
      parg(job, 7),
      parg(job, 8),
      iarg(job, 9),
      iarg(job, 10),
      iarg(job, 11),
      work,
      counter,
    );
  else if (kind == JOB_GRAM_LOWER)
    gramLower(parg(job, 0), parg(job, 1), parg(job, 2), parg(job, 3), iarg(job, 4), parg(job, 5), counter);
  else if (kind == JOB_PROJECT_TILE)
    projectTile(parg(job, 0), iarg(job, 1), iarg(job, 2), iarg(job, 3), counter);
  else if (kind == JOB_SPARSE_ROWS)
    sparseRows(parg(job, 0), parg(job, 1), iarg(job, 2), parg(job, 3), iarg(job, 4), parg(job, 5), counter);
}
