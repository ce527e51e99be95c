/**
 * The element loss and its compensated block sum. Pure: typed arrays and
 * numbers in, numbers out; no I/O, no threads, nothing from node:.
 */

/**
 * Sums are taken over fixed blocks of this many elements, counted from
 * element 0 of the tensor, whatever the chunk size or thread count: that is
 * what makes results bit-identical across both.
 */
export const BLOCK_ELEMENTS = 4096;

export interface LossParams {
  readonly delta: number;
  /** false: PyTorch's smooth_l1_loss(beta=delta), i.e. the Huber loss divided by delta. */
  readonly huber: boolean;
}

/**
 * Loss of elements a[aAt..aAt+n) against b[bAt..bAt+n), written to z[zAt..)
 * when z is given; returns their sum, compensated.
 *
 * Huber as min-form: with c = min(|d|, delta), z = c*(|d| - c/2). For
 * |d| < delta that is |d|*(|d|/2), bit-equal to 0.5*d*d (halving is exact);
 * otherwise delta*(|d| - delta/2). Math.min keeps the loop branch-free, and
 * it passes NaN through.
 *
 * The sum uses Knuth's TwoSum, which yields the exact rounding error of every
 * addition whatever the magnitudes, so it equals Neumaier's compensated sum
 * without Neumaier's data-dependent branch.
 */
export function blockLoss(
  a: Float64Array,
  aAt: number,
  b: Float64Array,
  bAt: number,
  n: number,
  params: LossParams,
  z: Float64Array | null,
  zAt: number,
): number {
  return params.huber
    ? huberBlock(a, aAt, b, bAt, n, params.delta, z, zAt)
    : smoothL1Block(a, aAt, b, bAt, n, params.delta, z, zAt);
}

function huberBlock(
  a: Float64Array,
  aAt: number,
  b: Float64Array,
  bAt: number,
  n: number,
  delta: number,
  z: Float64Array | null,
  zAt: number,
): number {
  let s = 0;
  let c = 0;
  for (let i = 0; i < n; i++) {
    const d = a[aAt + i]! - b[bAt + i]!;
    const ad = Math.abs(d);
    const m = Math.min(ad, delta);
    const x = m * (ad - 0.5 * m);
    if (z !== null) z[zAt + i] = x;
    const t = s + x;
    const bp = t - s;
    c += s - (t - bp) + (x - bp);
    s = t;
  }
  return compensated(s, c);
}

function smoothL1Block(
  a: Float64Array,
  aAt: number,
  b: Float64Array,
  bAt: number,
  n: number,
  delta: number,
  z: Float64Array | null,
  zAt: number,
): number {
  let s = 0;
  let c = 0;
  const halfDelta = 0.5 * delta;
  for (let i = 0; i < n; i++) {
    const d = a[aAt + i]! - b[bAt + i]!;
    const ad = Math.abs(d);
    const x = ad < delta ? (0.5 * d * d) / delta : ad - halfDelta;
    if (z !== null) z[zAt + i] = x;
    const t = s + x;
    const bp = t - s;
    c += s - (t - bp) + (x - bp);
    s = t;
  }
  return compensated(s, c);
}

/**
 * s + c, except that once s is infinite or NaN the compensation is NaN
 * (inf - inf) and must not poison a correct ±inf.
 */
export const compensated = (s: number, c: number): number => (Number.isFinite(s) ? s + c : s);
