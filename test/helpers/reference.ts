/**
 * Reference implementations for the unit tests, written out longhand from
 * the specifications (IEEE 754 binary16, the conformance README's loss
 * formulas, Shewchuk's exact summation). They import nothing but types from
 * src/, so a test that compares src/ against them compares two independent
 * derivations.
 */
import { fc } from '@fast-check/ava';
import type { DType, FloatDType } from '../../src/tensor/tensor.js';

export const DTYPES: readonly DType[] = [
  'bool',
  'int8',
  'uint8',
  'int16',
  'uint16',
  'int32',
  'uint32',
  'int64',
  'uint64',
  'float16',
  'float32',
  'float64',
];

export const FLOAT_DTYPES: readonly FloatDType[] = ['float16', 'float32', 'float64'];

/** Bytes per element, from NumPy's `np.dtype(name).itemsize`. */
export const ITEM_BYTES: Readonly<Record<DType, number>> = {
  bool: 1,
  int8: 1,
  uint8: 1,
  int16: 2,
  uint16: 2,
  int32: 4,
  uint32: 4,
  int64: 8,
  uint64: 8,
  float16: 2,
  float32: 4,
  float64: 8,
};

// ---------------------------------------------------------------- binary16

/** binary16 bits → value, straight from the IEEE 754 definition. */
export function halfBitsToNumber(bits: number): number {
  const negative = (bits & 0x8000) !== 0;
  const e = (bits >>> 10) & 0x1f;
  const m = bits & 0x3ff;
  let magnitude: number;
  if (e === 0x1f) magnitude = m === 0 ? Infinity : NaN;
  else if (e === 0) magnitude = m / 1024 / 16384; // subnormal: m * 2^-10 * 2^-14
  else magnitude = ((1024 + m) / 1024) * Math.pow(2, e - 15);
  return negative ? -magnitude : magnitude;
}

export const isHalfNaN = (bits: number): boolean => (bits & 0x7c00) === 0x7c00 && (bits & 0x3ff) !== 0;

/**
 * The binary16 nearest to x, ties to the even bit pattern, by searching the
 * sorted list of positive halves (bits 0..0x7bff increase with their value).
 * Beyond the largest half the next candidate is 2^16, whose pattern is that
 * of infinity (IEEE 754 §4.3.1: overflow rounds as if the exponent range
 * were unbounded).
 */
export function nearestHalfBits(x: number): number {
  if (Number.isNaN(x)) return 0x7e00;
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  const value = (bits: number): number => (bits === 0x7c00 ? 65536 : halfBitsToNumber(bits));
  if (a >= 65536) return sign | 0x7c00;
  // Largest pattern whose value is <= a.
  let lo = 0;
  let hi = 0x7c00;
  while (hi - lo > 1) {
    const mid = (lo + hi) >>> 1;
    if (value(mid) <= a) lo = mid;
    else hi = mid;
  }
  const below = value(lo);
  if (below === a) return sign | lo;
  const above = value(lo + 1);
  const dBelow = a - below;
  const dAbove = above - a;
  if (dBelow < dAbove) return sign | lo;
  if (dAbove < dBelow) return sign | (lo + 1);
  return sign | (lo % 2 === 0 ? lo : lo + 1);
}

export const roundToHalfRef = (x: number): number => halfBitsToNumber(nearestHalfBits(x));

const f32 = new DataView(new ArrayBuffer(4));
/** x rounded to binary32 through a DataView store. */
export function roundToFloat32Ref(x: number): number {
  f32.setFloat32(0, x, true);
  return f32.getFloat32(0, true);
}

export function roundToDTypeRef(x: number, dtype: FloatDType): number {
  if (dtype === 'float16') return roundToHalfRef(x);
  if (dtype === 'float32') return roundToFloat32Ref(x);
  return x;
}

// ---------------------------------------------------------------- losses

/** The conformance README's formula, in float64: d = a - b, Huber with threshold delta. */
export function huberRef(a: number, b: number, delta: number): number {
  const d = a - b;
  return Math.abs(d) < delta ? 0.5 * d * d : delta * (Math.abs(d) - 0.5 * delta);
}

/** The README's --no-huber variant: the Huber value divided by delta. */
export function smoothL1Ref(a: number, b: number, delta: number): number {
  const d = a - b;
  return Math.abs(d) < delta ? (0.5 * d * d) / delta : Math.abs(d) - 0.5 * delta;
}

export const lossRef = (a: number, b: number, p: { readonly delta: number; readonly huber: boolean }): number =>
  p.huber ? huberRef(a, b, p.delta) : smoothL1Ref(a, b, p.delta);

// ---------------------------------------------------------------- sums

/** Neumaier's running sum and compensation, in the textbook branching form (Neumaier 1974), before they are added. */
export function neumaierParts(values: ArrayLike<number>): { s: number; c: number } {
  let s = 0;
  let c = 0;
  for (let i = 0; i < values.length; i++) {
    const x = values[i]!;
    const t = s + x;
    if (Math.abs(s) >= Math.abs(x)) c += s - t + x;
    else c += x - t + s;
    s = t;
  }
  return { s, c };
}

/**
 * Neumaier's compensated sum. Once the running sum is no longer finite the
 * compensation is meaningless, and the running sum is the answer.
 */
export function neumaierSum(values: ArrayLike<number>): number {
  const { s, c } = neumaierParts(values);
  return Number.isFinite(s) ? s + c : s;
}

/**
 * The correctly rounded sum of finite values: Shewchuk's partials, finished
 * as CPython's math.fsum finishes them (Modules/mathmodule.c, math_fsum).
 */
export function fsum(values: ArrayLike<number>): number {
  const partials: number[] = [];
  for (let k = 0; k < values.length; k++) {
    let x = values[k]!;
    let i = 0;
    for (let j = 0; j < partials.length; j++) {
      let y = partials[j]!;
      if (Math.abs(x) < Math.abs(y)) [x, y] = [y, x];
      const hi = x + y;
      const lo = y - (hi - x);
      if (lo !== 0) partials[i++] = lo;
      x = hi;
    }
    partials.length = i;
    partials.push(x);
  }
  let n = partials.length;
  if (n === 0) return 0;
  let hi = partials[--n]!;
  let lo = 0;
  while (n > 0) {
    const x = hi;
    const y = partials[--n]!;
    hi = x + y;
    lo = y - (hi - x);
    if (lo !== 0) break;
  }
  // Half-way case: make the rounding of hi + lo agree with the exact sum.
  if (n > 0 && ((lo < 0 && partials[n - 1]! < 0) || (lo > 0 && partials[n - 1]! > 0))) {
    const y = lo * 2;
    const x = hi + y;
    if (y === x - hi) hi = x;
  }
  return hi;
}

/**
 * Whether `sum` is as close to the exact sum of the non-negative `terms` as
 * a compensated sum must be: within u*S + 2*(n*u)^2*S of the exact S,
 * u = 2^-53 (Higham, Accuracy and Stability of Numerical Algorithms, 2nd
 * ed., §4.3). That is tighter than one ulp, which a plain float64 sum of a
 * few hundred terms usually misses. S is held as fsum(terms) plus the
 * correctly rounded remainder, so the distance is measured from S itself.
 * `partialError` widens the bound by that much of S, for sums whose terms
 * are first added in small plain partials.
 */
export function closeToExactSum(sum: number, terms: ArrayLike<number>, partialError = 0): boolean {
  const hi = fsum(terms);
  const lo = fsum([...Array.from(terms), -hi]);
  const n = terms.length;
  // sum - hi is exact (Sterbenz) whenever sum is anywhere near hi.
  return Math.abs(sum - hi - lo) <= (2 ** -53 + partialError + 2 * (n * 2 ** -53) ** 2) * hi + Number.MIN_VALUE;
}

/**
 * The relative error that plain partials of 4 non-negative losses (a lane's
 * share of a run, see src/kernel.ts) may add before compensation: 3
 * roundings, each at most 2^-53 of the partial, and the partials sum to the
 * total. Pass it to closeToExactSum for sums of element losses.
 */
export const PARTIAL_ERROR = 3 * 2 ** -53;

// ---------------------------------------------------------------- raw tensors

/** One element as stored (a bigint for 64-bit integers, bits for float16) and its value as float64. */
export interface Element {
  readonly stored: number | bigint;
  readonly value: number;
}

const int = (min: number, max: number): fc.Arbitrary<Element> =>
  fc.integer({ min, max }).map((v) => ({ stored: v, value: v }));

const big = (min: bigint, max: bigint): fc.Arbitrary<Element> =>
  // Number(bigint) is correctly rounded (ECMA-262 §21.1.1.1, "the Number value for").
  fc.bigInt({ min, max }).map((v) => ({ stored: v, value: Number(v) }));

/** Any element of `dtype`, every bit pattern reachable. */
export function elementArb(dtype: DType): fc.Arbitrary<Element> {
  switch (dtype) {
    case 'bool':
      return fc.boolean().map((v) => ({ stored: v ? 1 : 0, value: v ? 1 : 0 }));
    case 'int8':
      return int(-128, 127);
    case 'uint8':
      return int(0, 255);
    case 'int16':
      return int(-32768, 32767);
    case 'uint16':
      return int(0, 65535);
    case 'int32':
      return int(-(2 ** 31), 2 ** 31 - 1);
    case 'uint32':
      return int(0, 2 ** 32 - 1);
    case 'int64':
      return big(-(2n ** 63n), 2n ** 63n - 1n);
    case 'uint64':
      return big(0n, 2n ** 64n - 1n);
    case 'float16':
      return fc.integer({ min: 0, max: 0xffff }).map((bits) => ({ stored: bits, value: halfBitsToNumber(bits) }));
    case 'float32':
      return fc.float().map((v) => ({ stored: v, value: v }));
    case 'float64':
      return fc.double().map((v) => ({ stored: v, value: v }));
  }
}

/** Writes `elements` as little-endian `dtype` into `bytes` from byte `at`, with DataView. */
export function writeElements(dtype: DType, elements: readonly Element[], bytes: Uint8Array, at = 0): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset + at);
  const size = ITEM_BYTES[dtype];
  elements.forEach((e, i) => {
    const o = i * size;
    const n = Number(e.stored);
    switch (dtype) {
      case 'bool':
      case 'uint8':
        return view.setUint8(o, n);
      case 'int8':
        return view.setInt8(o, n);
      case 'int16':
        return view.setInt16(o, n, true);
      case 'uint16':
      case 'float16':
        return view.setUint16(o, n, true);
      case 'int32':
        return view.setInt32(o, n, true);
      case 'uint32':
        return view.setUint32(o, n, true);
      case 'int64':
        return view.setBigInt64(o, BigInt(e.stored), true);
      case 'uint64':
        return view.setBigUint64(o, BigInt(e.stored), true);
      case 'float32':
        return view.setFloat32(o, n, true);
      case 'float64':
        return view.setFloat64(o, n, true);
    }
  });
}

/** `elements` as a fresh little-endian buffer of exactly their size. */
export function encodeElements(dtype: DType, elements: readonly Element[]): Uint8Array {
  const bytes = new Uint8Array(elements.length * ITEM_BYTES[dtype]);
  writeElements(dtype, elements, bytes);
  return bytes;
}

/** Element i of a little-endian float tensor, read back with DataView. */
export function readFloat(bytes: Uint8Array, dtype: FloatDType, i: number): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dtype === 'float64') return view.getFloat64(8 * i, true);
  if (dtype === 'float32') return view.getFloat32(4 * i, true);
  return halfBitsToNumber(view.getUint16(2 * i, true));
}

/** Same value, NaN equal to NaN, and +0 distinct from -0. */
export const sameValue = (a: number, b: number): boolean => Object.is(a, b);
