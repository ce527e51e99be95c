import { roundToDType } from '../tensor/dtype.js';
import type { FloatDType } from '../tensor/tensor.js';

/**
 * Whether a loss passes a CI gate of `limit`. The limit is rounded to the
 * loss's dtype first, so that passing the printed value back as the limit
 * passes; NaN never passes.
 */
export const passesGate = (loss: number, dtype: FloatDType, limit: number): boolean => loss <= roundToDType(limit, dtype);
