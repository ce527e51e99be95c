import { roundToDType } from '../tensor/dtype.js';
import type { FloatDType } from '../tensor/tensor.js';

/** The largest finite value of each float dtype (IEEE 754 binary16, binary32, binary64). */
const MAX_FINITE: Readonly<Record<FloatDType, number>> = {
  float16: 65504,
  float32: 3.4028234663852886e38,
  float64: Number.MAX_VALUE,
};

/**
 * `limit` as a value of the loss's dtype: the nearest one, as the loss itself
 * is rounded, so that passing the printed loss back as the limit passes; but
 * a finite limit beyond the dtype's range is its largest finite value, not
 * infinity, so that an infinite loss can never pass a finite limit.
 */
export function limitIn(dtype: FloatDType, limit: number): number {
  const rounded = roundToDType(limit, dtype);
  return Number.isFinite(rounded) ? rounded : Math.sign(limit) * MAX_FINITE[dtype];
}

/** Whether a loss passes a CI gate of `limit` (see limitIn); NaN never passes. */
export const passesGate = (loss: number, dtype: FloatDType, limit: number): boolean => loss <= limitIn(dtype, limit);
