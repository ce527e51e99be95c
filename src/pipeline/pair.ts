import { shapeMismatch, SmoothL1Error } from '../tensor/errors.js';
import type { TensorFormat, TensorSource } from '../tensor/tensor.js';
import { inCOrder } from './fortran-order.js';
import { openTensor, type OpenedInput } from './open-tensor.js';

/** Both inputs, opened so that chunk i of each holds the same logical elements. */
export interface Pair {
  readonly input: TensorSource;
  readonly label: TensorSource;
  /** The format INPUT's first bytes named: the default format of an output. */
  readonly inputFormat: TensorFormat;
}

/**
 * Checks that two tensors can be paired element by element: equal shapes
 * (no broadcasting), so that chunk i of one holds the same logical elements
 * as chunk i of the other once their storage orders agree.
 */
export function checkPairable(input: TensorSource, label: TensorSource): void {
  const a = input.header.shape;
  const b = label.header.shape;
  if (a.length !== b.length || a.some((d, i) => d !== b[i])) throw shapeMismatch(label.header.file, a, b);
}

/** Opens a tensor, closing `other` if that fails. */
async function openOrClose(path: string, key: string | undefined, other?: OpenedInput): Promise<OpenedInput> {
  try {
    return await openTensor(path, key);
  } catch (err) {
    await other?.source.close();
    throw err;
  }
}

/**
 * A stream read from stdin learns its row count from the other input; it
 * checks the count as it reads.
 */
async function sized(opened: OpenedInput, other: TensorSource): Promise<TensorSource> {
  if (opened.sized) return opened.source;
  const rows = other.header.shape[0];
  if (rows === undefined) throw new SmoothL1Error('shape-mismatch', opened.source.file, 'shapes differ: the other input is 0-d, an Arrow column has rows');
  return opened.source.withRows(rows);
}

export interface PairRequest {
  readonly inputPath: string;
  readonly labelPath: string;
  readonly inputKey: string | undefined;
  readonly labelKey: string | undefined;
  /** Whether the output can store Fortran order; if not, both inputs are read in C order. */
  readonly fortranAllowed: boolean;
  /** Largest Fortran-ordered input reordered in memory; larger ones are refused. */
  readonly reorderLimitBytes: number;
}

/**
 * Opens both inputs and makes chunk i of each hold the same logical
 * elements. Storage orders must agree, and be C order where the output
 * cannot store Fortran order: a Fortran-ordered input is reordered (in
 * memory, up to a limit) rather than paired by file position.
 */
export async function openPair(req: PairRequest): Promise<Pair> {
  const a = await openOrClose(req.inputPath, req.inputKey);
  const b = await openOrClose(req.labelPath, req.labelKey, a);
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
      throw new SmoothL1Error('usage', undefined, 'two streams of unknown length cannot be paired');
    }
    checkPairable(input, label);
    const wantFortran = req.fortranAllowed && input.header.fortranOrder && label.header.fortranOrder;
    const order = (s: TensorSource): Promise<TensorSource> =>
      s.header.fortranOrder === wantFortran ? Promise.resolve(s) : inCOrder(s, req.reorderLimitBytes);
    return { input: await order(input), label: await order(label), inputFormat: a.format };
  } catch (err) {
    await Promise.all([a.source.close(), b.source.close()]);
    throw err;
  }
}
