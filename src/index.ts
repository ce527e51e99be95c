export { smoothL1Loss, DEFAULT_OPTIONS, type LossOptions, type LossSummary } from './loss.js';
export { SmoothL1Error } from './errors.js';
export { formatScalar } from './print.js';
export type { DType, FloatDType, TensorHeader } from './tensor.js';
export type { Reduction } from './reduce.js';
