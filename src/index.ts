export { smoothL1Loss, type LossSummary } from './pipeline/loss.js';
export { SmoothL1Error, type ErrorCode } from './tensor/errors.js';
export { formatScalar } from './print/scalar.js';
export type { DType, FloatDType, TensorHeader } from './tensor/tensor.js';
export { DEFAULT_OPTIONS, type LossOptions, type Reduction } from './pipeline/options.js';
