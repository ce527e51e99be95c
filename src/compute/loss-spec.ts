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
 * Elements are summed in LANES interleaved accumulators: element i of a block
 * goes to lane i % LANES. Each lane takes its elements in runs of
 * RUN_ELEMENTS / LANES, adds a run's losses left to right in plain float64,
 * and adds that partial to its running sum with compensation. That is the
 * order the WebAssembly SIMD kernel (scripts/kernel-wat.mjs: two f64x2
 * accumulators, four groups of four elements a run) adds in, so this plain
 * JavaScript is its exact specification: tests hold the two bit-equal.
 */
export const LANES = 4;
export const RUN_ELEMENTS = 16;

/**
 * Loss of elements a[aAt..aAt+n) against b[bAt..bAt+n), written to z[zAt..)
 * when z is given; returns their sum, compensated.
 *
 * Huber as min-form: with m = min(|d|, delta), z = m*(|d| - m/2). For
 * |d| < delta that is |d|*(|d|/2), bit-equal to 0.5*d*d (halving is exact);
 * otherwise delta*(|d| - delta/2). min passes NaN through and needs no branch.
 *
 * A run's partial is a sum of 4 losses, all >= 0, so it is within 3 ulp of
 * exact. It goes into the lane's sum with Dekker's Fast2Sum, larger operand
 * first, which yields the exact rounding error of the addition (as TwoSum
 * does) in fewer operations. The last run of a block is padded with zero
 * losses, as the kernel pads it; adding 0 changes no partial.
 */
export function specBlockSum(
  a: Float64Array,
  aAt: number,
  b: Float64Array,
  bAt: number,
  n: number,
  params: LossParams,
  z: Float64Array | null,
  zAt: number,
): number {
  const lanes = new Float64Array(2 * LANES);
  const partial = new Float64Array(LANES);
  const { delta, huber } = params;
  const padded = Math.ceil(n / RUN_ELEMENTS) * RUN_ELEMENTS;
  for (let i = 0; i < padded; i++) {
    let x = 0;
    if (i < n) {
      const d = a[aAt + i]! - b[bAt + i]!;
      x = huber ? huberElement(d, delta) : smoothL1Element(d, delta);
      if (z !== null) z[zAt + i] = x;
    }
    const lane = i % LANES;
    const inRun = i % RUN_ELEMENTS;
    partial[lane] = inRun < LANES ? x : partial[lane]! + x;
    if (inRun < RUN_ELEMENTS - LANES) continue;
    const s = lanes[lane]!;
    const p = partial[lane]!;
    const t = s + p;
    // WebAssembly's pmin and pmax, exactly: NaN and ±0 order as they do there.
    const lo = p < s ? p : s;
    const hi = s < p ? p : s;
    lanes[LANES + lane] = lanes[LANES + lane]! + (lo - (t - hi));
    lanes[lane] = t;
  }
  return finishLanes(lanes);
}

export function huberElement(d: number, delta: number): number {
  const ad = Math.abs(d);
  const m = Math.min(ad, delta);
  return m * (ad - 0.5 * m);
}

/** PyTorch's smooth_l1_loss(beta=delta): the Huber loss divided by delta. */
export function smoothL1Element(d: number, delta: number): number {
  const ad = Math.abs(d);
  return ad < delta ? (0.5 * d * d) / delta : ad - 0.5 * delta;
}

/**
 * A block's sum from its lane state (LANES sums, then LANES compensations):
 * lanes folded in order with TwoSum, compensations gathered, added once.
 */
export function finishLanes(state: Float64Array): number {
  let s = state[0]!;
  let c = state[LANES]!;
  for (let lane = 1; lane < LANES; lane++) {
    const x = state[lane]!;
    const t = s + x;
    const bp = t - s;
    c += state[LANES + lane]! + (s - (t - bp) + (x - bp));
    s = t;
  }
  return compensated(s, c);
}

/**
 * s + c, except that once s is infinite or NaN the compensation is NaN
 * (inf - inf) and must not poison a correct ±inf.
 */
export const compensated = (s: number, c: number): number => (Number.isFinite(s) ? s + c : s);
