/** Vector helpers shared by the providers, the embedder and the tests. */

/** Scales `v` to unit length in place and returns it; throws on a zero or non-finite vector. */
export function normaliseInPlace(v: Float32Array): Float32Array {
  let sum = 0;
  for (let i = 0; i < v.length; i++) sum += v[i]! * v[i]!;
  if (!Number.isFinite(sum)) throw new Error('the vector has NaN or infinite values');
  if (sum === 0) throw new Error('the vector is all zeros');
  const scale = 1 / Math.sqrt(sum);
  for (let i = 0; i < v.length; i++) v[i]! *= scale;
  return v;
}

/** Dot product in double precision. */
export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i]! * b[i]!;
  return sum;
}
