/**
 * IEEE 754 binary16 conversions. JavaScript has no Float16Array on Node 20,
 * so half floats travel as their raw Uint16 bits.
 */

let table: Float64Array | undefined;

/**
 * Every binary16 bit pattern decoded to float64, indexed by the bits. Built
 * on first use: building 65,536 entries is a noticeable part of start-up,
 * which every run and every worker would pay, mostly for nothing (the
 * kernel widens halves itself).
 */
export const halfTable = (): Float64Array => (table ??= buildHalfTable());

function buildHalfTable(): Float64Array {
  const table = new Float64Array(65536);
  for (let bits = 0; bits < 65536; bits++) table[bits] = decodeHalf(bits);
  return table;
}

/** One binary16 bit pattern as a float64; halfTable() is the faster way for many. */
export function decodeHalf(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa === 0 ? sign * Infinity : NaN;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

const scratch = new Float64Array(1);
const scratchWords = new Uint32Array(scratch.buffer);
// Which 32-bit word of a float64 holds the exponent depends on the platform's byte order.
const HIGH_WORD = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0;

/** Rounds a non-negative number with at most 11 significant integer bits, ties to even. */
function roundHalfEven(q: number): number {
  const f = Math.floor(q);
  const rest = q - f;
  if (rest > 0.5) return f + 1;
  if (rest < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/**
 * float64 → binary16 bits, rounded once, to nearest, ties to even. Going
 * through float32 first would round twice and can be off by one unit.
 */
export function float64ToHalfBits(x: number): number {
  if (Number.isNaN(x)) return 0x7e00;
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  // 65520 is halfway between the largest half (65504) and 2^16; ties go to even, i.e. to infinity.
  if (a >= 65520) return sign | 0x7c00;
  if (a < 2 ** -14) return sign | roundHalfEven(a * 2 ** 24);
  scratch[0] = a;
  const exponent = ((scratchWords[HIGH_WORD]! >>> 20) & 0x7ff) - 1023;
  let mantissa = roundHalfEven((a * 2 ** -exponent - 1) * 1024);
  let biased = exponent + 15;
  if (mantissa === 1024) {
    mantissa = 0;
    biased += 1;
  }
  return sign | (biased << 10) | mantissa;
}

/** Rounds a float64 to the nearest binary16 value, returned as a float64 (without building the table for one value). */
export const roundToHalf = (x: number): number => decodeHalf(float64ToHalfBits(x));
