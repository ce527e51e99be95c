import { reduceSum } from '../compute/reduce.js';
import { outputFormat, scalarFile, writerBeforeOpening, writerOf } from '../formats/index.js';
import { checkOutputPath, openOutput, STDOUT, writeWhole } from '../io/output.js';
import { resultDType, roundToDType } from '../tensor/dtype.js';
import { SmoothL1Error } from '../tensor/errors.js';
import type { TensorWriter } from '../tensor/format.js';
import { elementCount, type FloatDType, type TensorFormat } from '../tensor/tensor.js';
import { chunkElementsFor, executorFor, startPoolEarly } from './chunk-plan.js';
import type { LossExecutor } from './executor.js';
import { STDIN } from './open-tensor.js';
import { checkOptions, DEFAULT_OPTIONS, type LossOptions } from './options.js';
import { openPair, type Pair } from './pair.js';
import { runChunks } from './run-chunks.js';

export interface LossSummary {
  /** The reduced loss, rounded to `dtype`; undefined for reduction 'none'. */
  readonly value: number | undefined;
  readonly dtype: FloatDType;
  readonly shape: readonly number[];
}

const scalarRefused = (output: string | undefined): SmoothL1Error =>
  new SmoothL1Error('usage', output, 'a mean or sum is a 0-d scalar, which Arrow output cannot hold; write it as .npy or use --reduction none');

const zeroDRefused = (output: string): SmoothL1Error =>
  new SmoothL1Error('unsupported', output, 'the inputs are 0-d, and Arrow output stores rows; write it as .npy');

/**
 * Smooth-L1 (Huber) loss between two tensor files, as Paddle's
 * SmoothL1Loss(reduction, delta) computes it, streamed chunk by chunk.
 * With `output`, also writes the loss atomically: the tensor for 'none' (as
 * .npy or Arrow), a 0-d .npy otherwise.
 */
export async function smoothL1Loss(inputPath: string, labelPath: string, options: Partial<LossOptions> = {}): Promise<LossSummary> {
  const opts: LossOptions = { ...DEFAULT_OPTIONS, ...options };
  checkOptions(inputPath, labelPath, opts);
  if (opts.output !== undefined) await checkOutputPath(opts.output, [inputPath, labelPath]);
  const early = await startPoolEarly(
    [inputPath, labelPath].filter((p) => p !== STDIN),
    opts,
  );
  try {
    return await computeLoss(inputPath, labelPath, opts, early);
  } finally {
    await early?.close();
  }
}

/** smoothL1Loss once its options are checked; `early` is a pool already started, if any. */
async function computeLoss(inputPath: string, labelPath: string, opts: LossOptions, early: LossExecutor | undefined): Promise<LossSummary> {
  const { output } = opts;
  const planned = writerBeforeOpening(output, opts.format, output === STDOUT);
  if (opts.reduction !== 'none' && !planned.holdsScalars) throw scalarRefused(output);
  const pair = await openPair({
    inputPath,
    labelPath,
    inputKey: opts.inputColumn,
    labelKey: opts.labelColumn,
    fortranAllowed: planned.storesFortranOrder,
    reorderLimitBytes: opts.reorderLimitBytes,
  });
  const { input, label } = pair;
  const { shape } = input.header;
  const dtype = resultDType(input.header.dtype, label.header.dtype);
  const count = elementCount(shape);
  let writer: TensorWriter | undefined;
  try {
    if (opts.reduction === 'none' && output !== undefined) writer = await openLossWriter(output, opts.format, pair, dtype);
    const chunkElements = chunkElementsFor(opts.chunkElements, [input, label], writer !== undefined && writer.direct === undefined, count);
    const executor = executorFor(opts, count, Math.ceil(count / chunkElements), early);
    try {
      const params = { delta: opts.delta, huber: opts.huber };
      const sum = await runChunks({ input, label, count, chunkElements, executor, params, dtype, writer });
      if (writer !== undefined) {
        await writer.finish();
        return { value: undefined, dtype, shape };
      }
      const value = roundToDType(reduceSum(opts.reduction === 'sum' ? 'sum' : 'mean', sum, count), dtype);
      if (output !== undefined) await writeWhole(output, scalarFile(value, dtype));
      return { value, dtype, shape };
    } finally {
      if (executor !== early) await executor.close();
    }
  } catch (err) {
    await writer?.abort();
    throw err;
  } finally {
    await Promise.all([input.close(), label.close()]);
  }
}

/** Opens the writer of the element losses, in the format chosen now that the input's is known. */
async function openLossWriter(output: string, explicit: TensorFormat | undefined, pair: Pair, dtype: FloatDType): Promise<TensorWriter> {
  const format = writerOf(outputFormat(output, explicit, pair.inputFormat, output === STDOUT));
  const { shape, fortranOrder } = pair.input.header;
  if (!format.holdsScalars && shape.length === 0) throw zeroDRefused(output);
  return format.open(await openOutput(output), { path: output, dtype, shape, fortranOrder });
}
