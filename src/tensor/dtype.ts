import { roundToHalf } from './float16.js';
import type { DType, FloatDType } from './tensor.js';

export const ITEM_SIZE: Readonly<Record<DType, number>> = {
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

const FLOAT_RANK: Readonly<Record<FloatDType, number>> = { float16: 0, float32: 1, float64: 2 };

/**
 * The smallest float NumPy promotes an integer or bool dtype to when it meets
 * float16: integers of 1 byte fit float16, of 2 bytes float32, wider ones
 * float64.
 */
function floatFor(dtype: DType): FloatDType {
  if (dtype === 'float16' || dtype === 'float32' || dtype === 'float64') return dtype;
  const size = ITEM_SIZE[dtype];
  if (size === 1) return 'float16';
  if (size === 2) return 'float32';
  return 'float64';
}

const maxFloat = (a: FloatDType, b: FloatDType): FloatDType => (FLOAT_RANK[a] >= FLOAT_RANK[b] ? a : b);

/**
 * `np.result_type(input, label, np.float16)`: the loss's dtype (conformance
 * README, "Result dtype"). With a float among the arguments, NumPy 2 casts
 * each integer to the float it needs on its own rather than first promoting
 * the integers to each other: int8 with uint8 gives float16, not float32
 * by way of int16.
 */
export const resultDType = (input: DType, label: DType): FloatDType => maxFloat(floatFor(input), floatFor(label));


/** Rounds a float64 to the nearest value of `dtype`, once. */
export function roundToDType(x: number, dtype: FloatDType): number {
  if (dtype === 'float64') return x;
  if (dtype === 'float32') return Math.fround(x);
  return roundToHalf(x);
}
