import { availableParallelism } from 'node:os';
import type { Reduction } from '../compute/reduce.js';

export type { Reduction };
import { isWriterName, WRITER_NAMES } from '../formats/index.js';
import { usageError } from '../tensor/errors.js';
import type { TensorFormat } from '../tensor/tensor.js';
import { REORDER_LIMIT_BYTES } from './fortran-order.js';
import { POOL_MIN_ELEMENTS } from './chunk-plan.js';
import { STDIN } from './open-tensor.js';

export interface LossOptions {
  readonly reduction: Reduction;
  readonly delta: number;
  /** false: PyTorch's smooth_l1_loss(beta=delta), the Huber loss divided by delta. */
  readonly huber: boolean;
  readonly threads: number;
  /**
   * Elements per chunk, rounded up to whole blocks; by default
   * DEFAULT_CHUNK_ELEMENTS, or RANGE_CHUNK_ELEMENTS where that costs no
   * memory. Results do not depend on it.
   */
  readonly chunkElements: number | undefined;
  /** Where to write the loss ('-' for stdout); required for reduction 'none'. */
  readonly output: string | undefined;
  /** The output's format; by default from its extension, else the input's (see outputFormat). */
  readonly format: TensorFormat | undefined;
  /** The Arrow column of INPUT and LABEL to read; needed when a schema has several fields. */
  readonly inputColumn: string | undefined;
  readonly labelColumn: string | undefined;
  /** Inputs with fewer elements run on one thread (POOL_MIN_ELEMENTS by default). */
  readonly poolMinElements: number;
  /** Largest Fortran-ordered input reordered in memory to pair with a C-ordered one; larger ones are refused. */
  readonly reorderLimitBytes: number;
}

export const DEFAULT_OPTIONS: LossOptions = {
  reduction: 'mean',
  delta: 1,
  huber: true,
  threads: availableParallelism(),
  chunkElements: undefined,
  poolMinElements: POOL_MIN_ELEMENTS,
  output: undefined,
  format: undefined,
  inputColumn: undefined,
  labelColumn: undefined,
  reorderLimitBytes: REORDER_LIMIT_BYTES,
};

/** Refuses options that cannot work, before any file is opened. */
export function checkOptions(inputPath: string, labelPath: string, opts: LossOptions): void {
  if (!(Number.isFinite(opts.delta) && opts.delta > 0)) throw usageError(`delta must be a finite number > 0, got ${opts.delta}`);
  if (opts.reduction === 'none' && opts.output === undefined) throw usageError("reduction 'none' needs an output (--output PATH, or - for stdout)");
  if (inputPath === STDIN && labelPath === STDIN) throw usageError("at most one of INPUT and LABEL can be '-' (stdin)");
  if (opts.format !== undefined && opts.output === undefined) throw usageError('format chooses the format of the output, and there is none');
  if (opts.format !== undefined && !isWriterName(opts.format)) throw usageError(`format must be one of ${WRITER_NAMES.join(', ')}, got '${String(opts.format)}'`);
}
