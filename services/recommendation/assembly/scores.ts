// AssemblyScript (compiled to WebAssembly with SIMD by `asc`, see ../package.json): the inner loops of the
// exact rankings. Product vectors are stored as float32 (what pgvector stores); every product of two floats
// is exact in float64 and every sum is accumulated in float64, so the scores are double-precision inner
// products of the stored vectors (the exactness tests compare them with a double-precision brute force).
//
// Memory layout, all in the module's (imported) linear memory, addresses in bytes:
// - a dense block: `rows` product rows of `width` float32 (width a multiple of 4, zero-padded);
// - a sparse block (CSR): `ptr` int32[rows + 1], `idx` uint16[nnz] (the dimension), `val` float32[nnz];
// - user vectors: float64; for the dense kernels one user after the other (`width` apart); for sparseAdd one
//   user after the other (`dims` apart); for sparse8 interleaved (dimension d of user k at d * 8 + k);
// - scores: float64, `rows` per user, one user's scores after the other's.

function hsum(a: v128): f64 {
  return f64x2.extract_lane(a, 0) + f64x2.extract_lane(a, 1);
}

function madd(acc: v128, lo: v128, hi: v128, u: usize): v128 {
  return f64x2.add(acc, f64x2.add(f64x2.mul(lo, v128.load(u)), f64x2.mul(hi, v128.load(u, 16))));
}

/** Dense scores of 8 users at once (each product row is read once for all 8): out = U · Mᵀ. */
export function dense8(matrix: usize, rows: i32, width: i32, users: usize, out: usize): void {
  const rowBytes = (<usize>width) << 2;
  const userBytes = (<usize>width) << 3;
  const stride = (<usize>rows) << 3;
  for (let p = 0; p < rows; p++) {
    const row = matrix + <usize>p * rowBytes;
    let a0 = f64x2.splat(0);
    let a1 = a0;
    let a2 = a0;
    let a3 = a0;
    let a4 = a0;
    let a5 = a0;
    let a6 = a0;
    let a7 = a0;
    for (let i: usize = 0, j: usize = 0; i < rowBytes; i += 16, j += 32) {
      const x = v128.load(row + i);
      const lo = f64x2.promote_low_f32x4(x);
      const hi = f64x2.promote_low_f32x4(v128.shuffle<i32>(x, x, 2, 3, 0, 1));
      let u = users + j;
      a0 = madd(a0, lo, hi, u);
      u += userBytes;
      a1 = madd(a1, lo, hi, u);
      u += userBytes;
      a2 = madd(a2, lo, hi, u);
      u += userBytes;
      a3 = madd(a3, lo, hi, u);
      u += userBytes;
      a4 = madd(a4, lo, hi, u);
      u += userBytes;
      a5 = madd(a5, lo, hi, u);
      u += userBytes;
      a6 = madd(a6, lo, hi, u);
      u += userBytes;
      a7 = madd(a7, lo, hi, u);
    }
    let o = out + ((<usize>p) << 3);
    store<f64>(o, hsum(a0));
    o += stride;
    store<f64>(o, hsum(a1));
    o += stride;
    store<f64>(o, hsum(a2));
    o += stride;
    store<f64>(o, hsum(a3));
    o += stride;
    store<f64>(o, hsum(a4));
    o += stride;
    store<f64>(o, hsum(a5));
    o += stride;
    store<f64>(o, hsum(a6));
    o += stride;
    store<f64>(o, hsum(a7));
  }
}

/** Dense scores of one user: out = M · u. */
export function dense1(matrix: usize, rows: i32, width: i32, user: usize, out: usize): void {
  const rowBytes = (<usize>width) << 2;
  for (let p = 0; p < rows; p++) {
    const row = matrix + <usize>p * rowBytes;
    let a0 = f64x2.splat(0);
    let a1 = a0;
    for (let i: usize = 0, j: usize = 0; i < rowBytes; i += 16, j += 32) {
      const x = v128.load(row + i);
      a0 = f64x2.add(a0, f64x2.mul(f64x2.promote_low_f32x4(x), v128.load(user + j)));
      a1 = f64x2.add(
        a1,
        f64x2.mul(f64x2.promote_low_f32x4(v128.shuffle<i32>(x, x, 2, 3, 0, 1)), v128.load(user + j, 16)),
      );
    }
    store<f64>(out + ((<usize>p) << 3), hsum(f64x2.add(a0, a1)));
  }
}

/** Adds the sparse part's scores of `count` users to `out` (which holds their dense scores, or zeros). */
export function sparseAdd(
  ptr: usize,
  idx: usize,
  val: usize,
  rows: i32,
  dims: i32,
  users: usize,
  count: i32,
  out: usize,
): void {
  const userBytes = (<usize>dims) << 3;
  const stride = (<usize>rows) << 3;
  for (let k = 0; k < count; k++) {
    const u = users + <usize>k * userBytes;
    const o = out + <usize>k * stride;
    let end = load<i32>(ptr);
    for (let p = 0; p < rows; p++) {
      const start = end;
      end = load<i32>(ptr + ((<usize>(p + 1)) << 2));
      let a: f64 = 0;
      for (let q = start; q < end; q++) {
        const d = <usize>load<u16>(idx + ((<usize>q) << 1));
        a += <f64>load<f32>(val + ((<usize>q) << 2)) * load<f64>(u + (d << 3));
      }
      const at = o + ((<usize>p) << 3);
      store<f64>(at, load<f64>(at) + a);
    }
  }
}

/**
 * Adds the sparse part's scores of 8 users to `out`: each stored value is read once for the 8 users, whose
 * vectors are interleaved (the 8 users' values of one dimension side by side: one 64-byte line).
 */
export function sparse8(ptr: usize, idx: usize, val: usize, rows: i32, users: usize, out: usize): void {
  const stride = (<usize>rows) << 3;
  let end = load<i32>(ptr);
  for (let p = 0; p < rows; p++) {
    const start = end;
    end = load<i32>(ptr + ((<usize>(p + 1)) << 2));
    let a0 = f64x2.splat(0);
    let a1 = a0;
    let a2 = a0;
    let a3 = a0;
    for (let q = start; q < end; q++) {
      const u = users + ((<usize>load<u16>(idx + ((<usize>q) << 1))) << 6);
      const v = f64x2.splat(<f64>load<f32>(val + ((<usize>q) << 2)));
      a0 = f64x2.add(a0, f64x2.mul(v, v128.load(u)));
      a1 = f64x2.add(a1, f64x2.mul(v, v128.load(u, 16)));
      a2 = f64x2.add(a2, f64x2.mul(v, v128.load(u, 32)));
      a3 = f64x2.add(a3, f64x2.mul(v, v128.load(u, 48)));
    }
    let o = out + ((<usize>p) << 3);
    store<f64>(o, load<f64>(o) + f64x2.extract_lane(a0, 0));
    o += stride;
    store<f64>(o, load<f64>(o) + f64x2.extract_lane(a0, 1));
    o += stride;
    store<f64>(o, load<f64>(o) + f64x2.extract_lane(a1, 0));
    o += stride;
    store<f64>(o, load<f64>(o) + f64x2.extract_lane(a1, 1));
    o += stride;
    store<f64>(o, load<f64>(o) + f64x2.extract_lane(a2, 0));
    o += stride;
    store<f64>(o, load<f64>(o) + f64x2.extract_lane(a2, 1));
    o += stride;
    store<f64>(o, load<f64>(o) + f64x2.extract_lane(a3, 0));
    o += stride;
    store<f64>(o, load<f64>(o) + f64x2.extract_lane(a3, 1));
  }
}
