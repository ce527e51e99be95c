import {
  DataType,
  Field,
  FixedSizeList,
  Float16,
  Float32,
  Float64,
  makeData,
  RecordBatch,
  RecordBatchFileWriter,
  RecordBatchStreamWriter,
  Schema,
  Struct,
  type Data,
  type RecordBatchWriter,
} from 'apache-arrow';
import { ITEM_SIZE } from '../../tensor/dtype.js';
import { internalError, SmoothL1Error } from '../../tensor/errors.js';
import { EXTENSION_METADATA, EXTENSION_NAME, FIXED_SHAPE_TENSOR, type ArrowFormat } from './magic.js';
import type { ByteSink, TensorWriter } from '../../tensor/format.js';
import type { FloatDType } from '../../tensor/tensor.js';

/** apache-arrow refuses arrays longer than this ("Cannot write arrays larger than 2^31 - 1"). */
const MAX_BATCH_ROWS = 2 ** 31 - 1;

/** The one column of our output. */
export const LOSS_COLUMN = 'loss';

/** Elements per record batch (rounded down to whole rows, at least one row): 4 MiB of float32. */
export const BATCH_ELEMENTS = 1 << 20;

/** Pieces of writer output below this size are gathered into one sink write. */
const SMALL_PIECE = 64 * 1024;

type LossType = Float16 | Float32 | Float64;

const LEAF_TYPE: Readonly<Record<FloatDType, () => LossType>> = {
  float16: () => new Float16(),
  float32: () => new Float32(),
  float64: () => new Float64(),
};

/** A typed-array view of `bytes` as apache-arrow expects the values of `dtype` (float16 as raw bits). */
function valuesOf(dtype: FloatDType, bytes: Uint8Array): Uint16Array | Float32Array | Float64Array {
  const n = bytes.byteLength / ITEM_SIZE[dtype];
  if (dtype === 'float64') return new Float64Array(bytes.buffer, bytes.byteOffset, n);
  if (dtype === 'float32') return new Float32Array(bytes.buffer, bytes.byteOffset, n);
  return new Uint16Array(bytes.buffer, bytes.byteOffset, n);
}

/**
 * The schema of a loss tensor of `shape`: a primitive column for rank 1; for
 * rank ≥ 2 one FixedSizeList row per first-axis index, tagged as the
 * canonical `arrow.fixed_shape_tensor` extension so that readers (ours
 * included) recover the full shape
 * (https://arrow.apache.org/docs/format/CanonicalExtensions.html#fixed-shape-tensor).
 */
export function lossSchema(dtype: FloatDType, shape: readonly number[]): Schema {
  const leaf = LEAF_TYPE[dtype]();
  if (shape.length === 1) return new Schema([new Field(LOSS_COLUMN, leaf, false)]);
  const rowShape = shape.slice(1);
  const width = rowShape.reduce((n, d) => n * d, 1);
  const metadata = new Map([
    [EXTENSION_NAME, FIXED_SHAPE_TENSOR],
    [EXTENSION_METADATA, JSON.stringify({ shape: rowShape })],
  ]);
  return new Schema([new Field(LOSS_COLUMN, new FixedSizeList(width, new Field('item', leaf, false)), false, metadata)]);
}

/** One record batch of `rows` rows whose elements are `bytes`. */
function lossBatch(schema: Schema, dtype: FloatDType, rows: number, bytes: Uint8Array): RecordBatch {
  const field = schema.fields[0]!;
  const values = valuesOf(dtype, bytes);
  const leaf: Data = makeData({ type: LEAF_TYPE[dtype](), length: values.length, nullCount: 0, data: values });
  const column: Data = DataType.isFixedSizeList(field.type) ? makeData({ type: field.type, length: rows, nullCount: 0, child: leaf }) : leaf;
  return new RecordBatch(schema, makeData({ type: new Struct(schema.fields), length: rows, nullCount: 0, children: [column] }));
}

const NOTHING = Symbol('nothing queued');
/** Already settled, so it loses a race only to another settled promise listed before it. */
const NOTHING_QUEUED: Promise<typeof NOTHING> = Promise.resolve(NOTHING);

/**
 * Hands everything a RecordBatchWriter has queued to the sink. apache-arrow's
 * writers queue their output without limit and offer no backpressure, so we
 * pull it through the writer's own async iterator after every batch. A queued
 * piece comes back as an already-settled promise, which wins a race against
 * a settled sentinel; an empty queue gives a pending one, which is kept and
 * awaited first next time, so no byte is ever skipped or reordered.
 */
class WriterDrain {
  readonly #pieces: AsyncIterator<Uint8Array>;
  readonly #sink: ByteSink;
  #pending: Promise<IteratorResult<Uint8Array>> | undefined;

  constructor(writer: RecordBatchWriter, sink: ByteSink) {
    this.#pieces = writer[Symbol.asyncIterator]();
    this.#sink = sink;
  }

  /** Writes all output queued so far; with `toEnd`, waits for the writer to close and writes everything. */
  async drain(toEnd: boolean): Promise<void> {
    const small: Uint8Array[] = [];
    for (;;) {
      const next = this.#pending ?? this.#pieces.next();
      this.#pending = undefined;
      const r = toEnd ? await next : await Promise.race([next, NOTHING_QUEUED]);
      if (r === NOTHING) {
        this.#pending = next;
        break;
      }
      if (r.done === true) break;
      if (r.value.byteLength < SMALL_PIECE) {
        small.push(r.value);
        continue;
      }
      await this.#flush(small);
      await this.#sink.write(r.value);
    }
    await this.#flush(small);
  }

  /** One sink write for many small pieces (message headers, padding) instead of one each. */
  async #flush(small: Uint8Array[]): Promise<void> {
    if (small.length === 0) return;
    const joined = Buffer.concat(small);
    small.length = 0;
    await this.#sink.write(joined);
  }
}

/**
 * Streams a loss tensor into `sink` as an Arrow IPC file or stream with one
 * column, `loss`. Elements arrive in pieces of any length; whole rows are
 * gathered into record batches of about BATCH_ELEMENTS elements, each written
 * out before the next is gathered, so memory stays at about one batch.
 * finish() writes the end-of-stream marker (and the footer of a file) and
 * commits the sink. A 0-d loss has no rows to put in a column and is refused.
 */
export async function openArrowWriter(sink: ByteSink, format: ArrowFormat, dtype: FloatDType, shape: readonly number[]): Promise<TensorWriter> {
  try {
    if (shape.length === 0) {
      throw new SmoothL1Error('unsupported', undefined, 'a 0-d (reduced) loss cannot be written as Arrow, which stores rows; use .npy, or --reduction none');
    }
    const schema = lossSchema(dtype, shape);
    const rows = shape[0]!;
    const rowBytes = shape.slice(1).reduce((n, d) => n * d, 1) * ITEM_SIZE[dtype];
    const writer = format === 'file' ? new RecordBatchFileWriter() : new RecordBatchStreamWriter();
    const drain = new WriterDrain(writer, sink);
    // Start with the schema, so that an empty tensor still gives a complete stream or file.
    writer.reset(undefined, schema);
    await drain.drain(false);
    return batchingWriter({ schema, dtype, rows, rowBytes, writer, drain, sink });
  } catch (err) {
    await sink.abort();
    throw err;
  }
}

interface BatchingState {
  readonly schema: Schema;
  readonly dtype: FloatDType;
  readonly rows: number;
  readonly rowBytes: number;
  readonly writer: RecordBatchWriter;
  readonly drain: WriterDrain;
  readonly sink: ByteSink;
}

/** Gathers element bytes into whole-row batches; a row split across write() calls is carried over. */
function batchingWriter(s: BatchingState): TensorWriter {
  const rowsPerBatch = s.rowBytes === 0 ? 0 : Math.max(1, Math.floor((BATCH_ELEMENTS * ITEM_SIZE[s.dtype]) / s.rowBytes));
  // Reused for every batch: once a batch is drained, the sink holds none of its bytes (ByteSink.write).
  const buffer = new Uint8Array(Math.min(rowsPerBatch, s.rows) * s.rowBytes);
  let batch = buffer.subarray(0, 0);
  let filled = 0;
  let rowsWritten = 0;

  const emit = async (batchRows: number, bytes: Uint8Array): Promise<void> => {
    s.writer.write(lossBatch(s.schema, s.dtype, batchRows, bytes));
    rowsWritten += batchRows;
    await s.drain.drain(false);
  };
  const startBatch = (): void => {
    batch = buffer.subarray(0, Math.min(rowsPerBatch, s.rows - rowsWritten) * s.rowBytes);
    filled = 0;
  };

  return {
    async write(elements) {
      for (let at = 0; at < elements.byteLength; ) {
        if (filled === batch.byteLength) startBatch();
        if (batch.byteLength === 0) throw internalError(`more loss elements than the ${s.rows} rows of the shape`);
        const n = Math.min(elements.byteLength - at, batch.byteLength - filled);
        batch.set(elements.subarray(at, at + n), filled);
        filled += n;
        at += n;
        if (filled === batch.byteLength) await emit(batch.byteLength / s.rowBytes, batch);
      }
    },
    async finish() {
      // Rows of zero elements never arrive through write(); they get batches of
      // their own, each within apache-arrow's limit on an array's length.
      for (let left = s.rowBytes === 0 ? s.rows : 0; left > 0; left -= MAX_BATCH_ROWS) await emit(Math.min(left, MAX_BATCH_ROWS), new Uint8Array(0));
      if (rowsWritten !== s.rows || filled !== batch.byteLength) {
        throw internalError(`${rowsWritten} of ${s.rows} loss rows written`);
      }
      s.writer.finish();
      await s.drain.drain(true);
      await s.sink.commit();
    },
    abort: () => s.sink.abort(),
  };
}
