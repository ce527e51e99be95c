export { smoothL1Loss, DEFAULT_OPTIONS, type LossOptions, type LossSummary } from './pipeline/loss.js';
export { SmoothL1Error } from './tensor/errors.js';
export { formatScalar } from './print/scalar.js';
export type { DType, FloatDType, TensorHeader } from './tensor/tensor.js';
export type { Reduction } from './compute/reduce.js';
