import { stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { ITEM_SIZE, resultDType, roundToDType } from '../tensor/dtype.js';
import { SmoothL1Error } from '../tensor/errors.js';
import { inlineExecutor, poolExecutor, type LossExecutor } from './executor.js';
import { inCOrder, REORDER_LIMIT_BYTES } from './fortran-order.js';
import { BLOCK_ELEMENTS, type LossParams } from '../compute/loss-spec.js';
import type { ChunkRef, LossTask } from '../workers/loss-task.js';
import { openTensor, STDIN, type OpenedTensor } from './open-tensor.js';
import { arrowByName, checkOutputPath, openOutput, openTensorWriter, outputFormat } from './output.js';
import { BlockSumFolder, reduceSum, type Reduction } from '../compute/reduce.js';
import { checkPairable, forEachChunkInOrder, SyncBehind, WriteBehind } from './schedule.js';
import { elementCount, type FloatDType, type TensorFormat, type TensorSource, type TensorWriter } from '../tensor/tensor.js';
import { npyScalar } from '../formats/npy/write.js';

/**
 * 512 Ki elements: 2 MiB per float32 input. Large enough that a task's
 * overhead (a message each way) is small; small enough that the buffers of
 * two tasks per worker (chunks from a stream, losses to write) keep peak
 * memory low.
 */
export const DEFAULT_CHUNK_ELEMENTS = 1 << 19;

/**
 * 2 Mi elements, for two inputs read as file ranges (.npy and Arrow files)
 * whose losses need no buffer here either (a mean or sum, or an .npy output
 * that workers write by position): such a task holds no buffer on the main
 * thread, and a worker takes it in slices, so its size costs no memory,
 * while a quarter as many tasks cut the time spent passing messages (8% of
 * the wall time on a 1 GiB pair).
 */
export const RANGE_CHUNK_ELEMENTS = 1 << 21;

/**
 * 64 Mi elements: smaller inputs run on one thread whatever --threads says.
 * A worker takes 40-60 ms of a core to start, and reading from the page
 * cache, most of the work, is bound by memory bandwidth that two cores
 * share. Measured here (2 cores): one thread finishes first up to about
 * 32 Mi elements, two from about 64 Mi (mean of float32 .npy files).
 */
export const POOL_MIN_ELEMENTS = 1 << 26;

/** Chunks of 'none' output that may wait to be written while the workers go on. */
const WRITE_DEPTH = 4;

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

export interface LossSummary {
  /** The reduced loss, rounded to `dtype`; undefined for reduction 'none'. */
  readonly value: number | undefined;
  readonly dtype: FloatDType;
  readonly shape: readonly number[];
}

/** Opens a tensor, closing `other` if that fails. */
async function openOrClose(path: string, column: string | undefined, other?: OpenedTensor): Promise<OpenedTensor> {
  try {
    return await openTensor(path, { column });
  } catch (err) {
    await other?.source.close();
    throw err;
  }
}

/**
 * A stream read from stdin learns its row count from the other input; it
 * checks the count as it reads.
 */
async function sized(opened: OpenedTensor, other: TensorSource): Promise<TensorSource> {
  if (opened.sized) return opened.source;
  const rows = other.header.shape[0];
  if (rows === undefined) throw new SmoothL1Error(opened.source.file, 'shapes differ: the other input is 0-d, an Arrow column has rows');
  return opened.source.withRows(rows);
}

interface Pair {
  readonly input: TensorSource;
  readonly label: TensorSource;
  readonly inputFormat: TensorFormat;
}

/**
 * Opens both inputs and makes chunk i of each hold the same logical
 * elements. Storage orders must agree, and be C order for Arrow output,
 * whose rows are C order: a Fortran-ordered input is reordered (in memory,
 * up to `reorderLimit` bytes) rather than paired by file position.
 */
async function openPair(inputPath: string, labelPath: string, opts: LossOptions, arrowOutput: boolean): Promise<Pair> {
  const a = await openOrClose(inputPath, opts.inputColumn);
  const b = await openOrClose(labelPath, opts.labelColumn, a);
  try {
    // At most one is unsized (only one can be stdin); it takes its rows from the other.
    let input: TensorSource;
    let label: TensorSource;
    if (a.sized) {
      input = a.source;
      label = await sized(b, input);
    } else if (b.sized) {
      label = b.source;
      input = await sized(a, label);
    } else {
      throw new SmoothL1Error(undefined, 'two streams of unknown length cannot be paired');
    }
    checkPairable(input, label);
    const wantFortran = !arrowOutput && input.header.fortranOrder && label.header.fortranOrder;
    const order = (s: TensorSource): Promise<TensorSource> =>
      s.header.fortranOrder === wantFortran ? Promise.resolve(s) : inCOrder(s, opts.reorderLimitBytes);
    return { input: await order(input), label: await order(label), inputFormat: a.format };
  } catch (err) {
    await Promise.all([a.source.close(), b.source.close()]);
    throw err;
  }
}

/** The size of the largest regular file among `paths`; 0 for stdin or what cannot be read (opening reports that). */
async function largestFileBytes(paths: readonly string[]): Promise<number> {
  const sizes = await Promise.all(paths.map((p) => (p === STDIN ? Promise.resolve(0) : stat(p).then((st) => st.size, () => 0))));
  return Math.max(0, ...sizes);
}

const scalarAsArrow = (output: string | undefined): SmoothL1Error =>
  new SmoothL1Error(output, 'a mean or sum is a 0-d scalar, which Arrow output cannot hold; write it as .npy or use --reduction none');

const zeroDAsArrow = (output: string): SmoothL1Error =>
  new SmoothL1Error(output, 'the inputs are 0-d, and Arrow output stores rows; write it as .npy');

const wholeBlocks = (n: number): number => Math.max(1, Math.ceil(n / BLOCK_ELEMENTS)) * BLOCK_ELEMENTS;

const chunkRef = (source: TensorSource, chunk: ChunkRef['chunk']): ChunkRef => ({
  file: source.header.file,
  chunk,
  dtype: source.header.dtype,
  byteOrder: source.header.byteOrder,
});

/**
 * Smooth-L1 (Huber) loss between two tensor files, as Paddle's
 * SmoothL1Loss(reduction, delta) computes it, streamed chunk by chunk.
 * With `output`, also writes the loss atomically: the tensor for 'none' (as
 * .npy or Arrow), a 0-d .npy otherwise.
 */
export async function smoothL1Loss(inputPath: string, labelPath: string, options: Partial<LossOptions> = {}): Promise<LossSummary> {
  const opts: LossOptions = { ...DEFAULT_OPTIONS, ...options };
  if (!(Number.isFinite(opts.delta) && opts.delta > 0)) throw new SmoothL1Error(undefined, `delta must be a finite number > 0, got ${opts.delta}`);
  if (opts.reduction === 'none' && opts.output === undefined) throw new SmoothL1Error(undefined, "reduction 'none' needs an output (--output PATH, or - for stdout)");
  if (inputPath === STDIN && labelPath === STDIN) throw new SmoothL1Error(undefined, "at most one of INPUT and LABEL can be '-' (stdin)");
  if (opts.output !== undefined) await checkOutputPath(opts.output, [inputPath, labelPath]);

  // Workers take tens of milliseconds to start (and apache-arrow longer to
  // load): when the files are large enough to need workers, start them
  // while the inputs are being opened.
  // A file of B bytes holds at least B/8 elements.
  const surelyLarge = (await largestFileBytes([inputPath, labelPath])) / 8 >= Math.max(opts.poolMinElements, 2 * (opts.chunkElements ?? DEFAULT_CHUNK_ELEMENTS));
  const early = opts.threads > 1 && surelyLarge ? poolExecutor(opts.threads) : undefined;
  try {
    return await computeLoss(inputPath, labelPath, opts, early);
  } finally {
    await early?.close();
  }
}

/** smoothL1Loss once its options are checked; `early` is a pool already started, if any. */
async function computeLoss(inputPath: string, labelPath: string, opts: LossOptions, early: LossExecutor | undefined): Promise<LossSummary> {
  // --format wins over the extension, as in outputFormat.
  const arrowOutput = opts.format !== undefined ? opts.format !== 'npy' : arrowByName(opts.output);
  if (opts.reduction !== 'none' && arrowOutput) throw scalarAsArrow(opts.output);
  const { input, label, inputFormat } = await openPair(inputPath, labelPath, opts, arrowOutput);
  const { shape, fortranOrder } = input.header;
  const dtype = resultDType(input.header.dtype, label.header.dtype);
  const count = elementCount(shape);
  let writer: TensorWriter | undefined;
  try {
    if (opts.reduction === 'none' && opts.output !== undefined) {
      const format = outputFormat(opts.output, opts.format, inputFormat);
      if (format !== 'npy' && shape.length === 0) throw zeroDAsArrow(opts.output);
      writer = await openTensorWriter(format, await openOutput(opts.output), dtype, shape, fortranOrder, opts.output);
    }
  } catch (err) {
    await Promise.all([input.close(), label.close()]);
    throw err;
  }
  // Losses written by position from the workers hold no buffer here either.
  const direct = writer?.direct;
  const chosen =
    opts.chunkElements ??
    ((writer === undefined || direct !== undefined) && [input, label].every((s) => (s.rangeChunkElements ?? 0) >= RANGE_CHUNK_ELEMENTS)
      ? RANGE_CHUNK_ELEMENTS
      : DEFAULT_CHUNK_ELEMENTS);
  // No chunk larger than the tensor: buffers are sized by the chunk.
  const chunkElements = wholeBlocks(Math.min(chosen, count));
  const chunks = Math.ceil(count / chunkElements);
  const executor: LossExecutor =
    early ?? (opts.threads <= 1 || chunks <= 1 || count < opts.poolMinElements ? inlineExecutor() : poolExecutor(Math.min(opts.threads, chunks)));
  const params: LossParams = { delta: opts.delta, huber: opts.huber };
  const folder = new BlockSumFolder();
  // Output buffers circulate: to a worker with a task, back with its result, back here once written.
  const free: ArrayBuffer[] = [];
  const takeBuffer = (): ArrayBuffer => free.pop() ?? new ArrayBuffer(chunkElements * ITEM_SIZE[dtype]);

  // The main thread writes chunk i while workers compute the next ones.
  const writes = new WriteBehind(WRITE_DEPTH);
  // Losses the workers write by position are synced as they come (17% off a 1 GiB 'none' here).
  const flush = writer?.flush?.bind(writer);
  const syncs = flush === undefined ? undefined : new SyncBehind(flush);
  try {
    await forEachChunkInOrder(
      count,
      chunkElements,
      executor.parallelism,
      async (first, n) => ({ first, n, chunks: await Promise.all([input.chunk(first, n), label.chunk(first, n)]) }),
      ({ first, n, chunks: [a, b] }) => {
        const transfer = [a, b].flatMap((c) => (c.kind === 'bytes' ? [c.buffer] : []));
        let output: LossTask['output'] = null;
        if (direct !== undefined) output = { direct: { ...direct, position: direct.position + first * ITEM_SIZE[dtype] }, dtype };
        else if (writer !== undefined) {
          const buffer = takeBuffer();
          output = { buffer, dtype };
          transfer.push(buffer);
        }
        const task: LossTask = { input: chunkRef(input, a), label: chunkRef(label, b), count: n, params, output };
        return executor.run(task, transfer);
      },
      async (result, _first, n) => {
        folder.add(result.sums);
        syncs?.poke();
        const { output } = result;
        if (writer !== undefined && output !== null) {
          await writes.push(async () => {
            await writer.write(new Uint8Array(output, 0, n * ITEM_SIZE[dtype]));
            free.push(output);
          });
        }
      },
    );
    if (writer !== undefined) {
      await writes.drain();
      await syncs?.settle();
      await writer.finish();
      return { value: undefined, dtype, shape };
    }
  } catch (err) {
    await writes.drain().catch(() => undefined);
    await syncs?.settle().catch(() => undefined);
    await writer?.abort();
    throw err;
  } finally {
    await Promise.all([executor === early ? undefined : executor.close(), input.close(), label.close()]);
  }

  const value = roundToDType(reduceSum(opts.reduction === 'sum' ? 'sum' : 'mean', folder.total(), count), dtype);
  if (opts.output !== undefined) await writeWhole(opts.output, npyScalar(value, dtype));
  return { value, dtype, shape };
}

async function writeWhole(target: string, bytes: Uint8Array): Promise<void> {
  const sink = await openOutput(target);
  try {
    await sink.write(bytes);
    await sink.commit();
  } catch (err) {
    await sink.abort();
    throw err;
  }
}
