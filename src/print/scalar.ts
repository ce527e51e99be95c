import { roundToDType } from '../tensor/dtype.js';
import type { FloatDType } from '../tensor/tensor.js';

/**
 * A finite positive binary float as m·2^e, with the facts about its
 * neighbours that decide which decimals read back to it.
 */
interface BinaryValue {
  /** The significand as an integer, hidden bit included. */
  readonly m: bigint;
  /** The exponent of the last significand bit: one unit in the last place is 2^e. */
  readonly e: number;
  /** The float below is only half an ulp away: x is a power of two above the subnormals. */
  readonly closerBelow: boolean;
}

/** IEEE 754 binary16/32/64: significand bits (hidden bit included) and the ulp exponent of the subnormals. */
const FORMAT: Readonly<Record<FloatDType, { readonly precision: number; readonly minE: number }>> = {
  float16: { precision: 11, minE: -24 },
  float32: { precision: 24, minE: -149 },
  float64: { precision: 53, minE: -1074 },
};

/**
 * NumPy >= 2.3 prints a scalar in scientific notation when |x| < 1e-4 or
 * |x| >= this bound, so that positional output never shows integer digits
 * the type does not hold; legacy='2.2' keeps 1e16 for all three
 * (numpy/_core/src/multiarray/scalartypes.c.src, `max_positional` in
 * `@name@type_@kind@_either` and `halftype_@kind@`). Measured on NumPy
 * 2.4.6: np.float16(999) → 999.0, np.float16(1000) → 1e+03,
 * np.float32(999999) → 999999.0, np.float32(1e6) → 1e+06.
 */
const MAX_POSITIONAL: Readonly<Record<FloatDType, number>> = { float16: 1e3, float32: 1e6, float64: 1e16 };

/**
 * NumPy compares float32 and float64 with the long double 1e-4L, and
 * float16 (widened to float) with the double 1e-4. No float64 lies between
 * 10^-4 and the float64 1e-4 (the nearest float64 to 10^-4, just above it),
 * so comparing in float64 decides the same way for all three types.
 */
const MIN_POSITIONAL = 1e-4;

const bitView = new DataView(new ArrayBuffer(8));

/** A finite positive float64 as exactly m·2^e, from its bit fields (IEEE 754 §3.4). */
function float64Parts(a: number): { m: bigint; e: number } {
  bitView.setFloat64(0, a, true);
  const bits = bitView.getBigUint64(0, true);
  const biased = Number(bits >> 52n);
  const fraction = bits & ((1n << 52n) - 1n);
  return biased === 0 ? { m: fraction, e: -1074 } : { m: fraction | (1n << 52n), e: biased - 1075 };
}

/**
 * A positive value of `dtype` (held exactly in a float64) with its own
 * significand and ulp: float16 and float32 have fewer significand bits than
 * float64, so their ulp, and the decimals that read back, are wider.
 */
function binaryValue(a: number, dtype: FloatDType): BinaryValue {
  const { precision, minE } = FORMAT[dtype];
  const parts = float64Parts(a);
  const topBit = parts.e + parts.m.toString(2).length - 1;
  const e = Math.max(topBit - (precision - 1), minE);
  const m = parts.m >> BigInt(e - parts.e);
  return { m, e, closerBelow: m === 1n << BigInt(precision - 1) && e > minE };
}

/**
 * The decimals that read back to x: those strictly between the midpoints
 * to its neighbours, and the midpoints themselves when x's significand is
 * even, since round-to-nearest sends a tie there (IEEE 754 §4.3.1). Bounds
 * are in units of 2^(e-2), so that the quarter-ulp lower midpoint at a
 * power of two is an integer too.
 */
interface RoundingInterval {
  readonly x: bigint;
  readonly low: bigint;
  readonly high: bigint;
  readonly inclusive: boolean;
  /** The exponent of the unit: x = this.x · 2^unitExponent. */
  readonly unitExponent: number;
}

function roundingInterval(v: BinaryValue): RoundingInterval {
  const x = 4n * v.m;
  return {
    x,
    low: x - (v.closerBelow ? 1n : 2n),
    high: x + 2n,
    inclusive: v.m % 2n === 0n,
    unitExponent: v.e - 2,
  };
}

/**
 * Integer factors that turn C·10^k against B·2^s into C·candidate against
 * B·bound, so the comparisons are exact (float64 subtraction is not).
 */
function crossScales(k: number, s: number): { candidate: bigint; bound: bigint } {
  const pow10 = 10n ** BigInt(Math.abs(k));
  const pow2 = 1n << BigInt(Math.abs(s));
  return {
    candidate: (k > 0 ? pow10 : 1n) * (s < 0 ? pow2 : 1n),
    bound: (k < 0 ? pow10 : 1n) * (s > 0 ? pow2 : 1n),
  };
}

/**
 * The multiple C·10^k that reads back to x and is nearest to it, exact
 * ties going to even C (Dragon4's last-digit rule in NumPy's dragon4.c),
 * or undefined if no multiple of 10^k reads back. The nearest multiples
 * are the two around x; if neither reads back, none farther does.
 */
function nearestReadingBack(r: RoundingInterval, k: number): bigint | undefined {
  const { candidate, bound } = crossScales(k, r.unitExponent);
  const x = r.x * bound;
  const low = r.low * bound;
  const high = r.high * bound;
  const readsBack = (c: bigint): boolean => {
    const y = c * candidate;
    return (low < y && y < high) || (r.inclusive && (y === low || y === high));
  };
  const below = x / candidate;
  const above = below + 1n;
  const belowOk = readsBack(below);
  const aboveOk = readsBack(above);
  if (!belowOk) return aboveOk ? above : undefined;
  if (!aboveOk) return below;
  const gapBelow = x - below * candidate;
  const gapAbove = above * candidate - x;
  if (gapBelow !== gapAbove) return gapBelow < gapAbove ? below : above;
  return below % 2n === 0n ? below : above;
}

/** Significant digits without trailing zeros, and the decimal exponent of the first one. */
interface Digits {
  readonly digits: string;
  readonly exponent: number;
}

/**
 * NumPy's Dragon4 "unique" digits (format_float_*, unique=True): the
 * fewest significant digits that read back to x in `dtype`, nearest to x
 * among those. Trying multiples of 10^k from coarse to fine, the first k
 * that has one gives the fewest digits. JavaScript's toExponential(p)
 * cannot do this: it rounds decimal ties up, and at a power of two the
 * nearest p-digit decimal can miss the narrower gap below x while one
 * above it reads back.
 */
function shortestDigits(a: number, dtype: FloatDType): Digits {
  const interval = roundingInterval(binaryValue(a, dtype));
  // Start a decade above x's own: 10^(⌊log10 x⌋+1) may read back, and
  // Math.log10 may be one off near powers of ten. The loop ends: once 10^k
  // is narrower than the interval, some multiple of it lies inside.
  for (let k = Math.floor(Math.log10(a)) + 1; ; k--) {
    const c = nearestReadingBack(interval, k);
    if (c !== undefined) return trimZeros(c, k);
  }
}

function trimZeros(c: bigint, k: number): Digits {
  const text = c.toString();
  const digits = text.replace(/0+$/, '');
  return { digits, exponent: k + text.length - 1 };
}

/** d[.ddd]e±XX with at least two exponent digits, as C's printf and NumPy write it. */
function scientific({ digits, exponent }: Digits): string {
  const fraction = digits.length > 1 ? `.${digits.slice(1)}` : '';
  const sign = exponent < 0 ? '-' : '+';
  return `${digits[0] ?? ''}${fraction}e${sign}${String(Math.abs(exponent)).padStart(2, '0')}`;
}

/** ddd.ddd, always with a point and a digit after it, so it reads as a float. */
function positional({ digits, exponent }: Digits): string {
  if (exponent < 0) return `0.${'0'.repeat(-exponent - 1)}${digits}`;
  const whole = digits.slice(0, exponent + 1).padEnd(exponent + 1, '0');
  const fraction = digits.slice(exponent + 1);
  return `${whole}.${fraction === '' ? '0' : fraction}`;
}

/** NumPy >= 2.3 picks the notation from the value, not from its digits. */
function isScientific(a: number, dtype: FloatDType): boolean {
  return a < MIN_POSITIONAL || a >= MAX_POSITIONAL[dtype];
}

/**
 * `str(np.<dtype>(x))` under NumPy's default print options (NumPy 2.4.6):
 * x is first rounded to `dtype`, as np.float16(x) rounds it, then printed
 * with the shortest digits that read back to it in that type.
 */
export function formatScalar(x: number, dtype: FloatDType): string {
  const v = roundToDType(x, dtype);
  // NumPy prints every NaN, whatever its sign, as nan.
  if (Number.isNaN(v)) return 'nan';
  const sign = v < 0 || Object.is(v, -0) ? '-' : '';
  const a = Math.abs(v);
  if (a === Infinity) return `${sign}inf`;
  if (a === 0) return `${sign}0.0`;
  const digits = shortestDigits(a, dtype);
  return sign + (isScientific(a, dtype) ? scientific(digits) : positional(digits));
}
