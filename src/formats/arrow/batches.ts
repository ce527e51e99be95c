/*
 * Record batches decoded by apache-arrow, for the columns and sources that
 * cannot be read as byte ranges of a file (bool, nulls, layouts we do not
 * count, streams from a pipe). Its own module so that apache-arrow loads
 * only when one of those needs it.
 */
import type { FileHandle } from 'node:fs/promises';
import { RecordBatchReader, type AsyncRecordBatchFileReader, type AsyncRecordBatchStreamReader, type Data, type RecordBatch } from 'apache-arrow';
import type { ColumnLayout } from './column.js';
import { arrowError, corrupt } from './metadata.js';
import { ITEM_SIZE } from '../../tensor/dtype.js';
import { internalError, SmoothL1Error } from '../../tensor/errors.js';
import type { Chunk } from '../../tensor/tensor.js';

export { AsyncByteStream } from 'apache-arrow';

const nullAt = (file: string, column: string, row: number): SmoothL1Error =>
  new SmoothL1Error('null', file, `column '${column}' has a null at row ${row}; every element must be present`);

/** A batch's elements of our column, flattened; copies runs of them into chunk buffers. */
interface Segment {
  readonly elements: number;
  /** Copies elements [from, from + n) to `into` at element index `at`. */
  copy(from: number, n: number, into: Uint8Array, at: number): void;
}

/** Index of the first null among items [0, n) of `data`, if any. */
function firstNull(data: Data, n: number): number | undefined {
  if (data.nullCount <= 0) return undefined;
  const bitmap: unknown = data.nullBitmap;
  if (!(bitmap instanceof Uint8Array) || bitmap.length === 0) return undefined;
  for (let i = 0; i < n; i++) {
    const bit = data.offset + i;
    if ((((bitmap[bit >> 3] ?? 0) >> (bit & 7)) & 1) === 0) return i;
  }
  return undefined;
}

function valueBytes(data: Data): Uint8Array {
  const values: unknown = data.values;
  if (!ArrayBuffer.isView(values)) throw internalError('apache-arrow gave a primitive column without a values buffer');
  return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
}

/**
 * Walks down the fixed-size list levels of `column` (one batch) to the
 * primitive values, refusing nulls at any level. `firstRow` is the batch's
 * first row in the whole table, for the error message.
 */
function batchSegment(file: string, layout: ColumnLayout, column: Data, rows: number, firstRow: number): Segment {
  let data = column;
  let items = rows;
  let perRow = 1;
  for (let level = 0; ; level++) {
    const i = firstNull(data, items);
    if (i !== undefined) throw nullAt(file, layout.name, firstRow + Math.floor(i / perRow));
    const size = layout.listSizes[level];
    if (size === undefined) break;
    const child = data.children[0];
    if (child === undefined) throw corrupt(file, 'fixed-size list without values');
    // apache-arrow slices list children along with their parent, so child item 0 belongs to parent item 0.
    data = child;
    items *= size;
    perRow *= size;
  }
  const elements = rows * layout.rowWidth;
  if (items !== elements || data.length < elements) throw corrupt(file, `batch at row ${firstRow} holds ${data.length} of ${elements} elements`);
  const bytes = valueBytes(data);
  if (layout.dtype === 'bool') {
    // Arrow packs booleans 8 to a byte, least significant bit first; our bool dtype is one byte 0/1 per element.
    const bitOffset = data.offset;
    // A bit past the buffer would read as false: a short buffer is damage, not data.
    if (bytes.length * 8 < bitOffset + elements) throw corrupt(file, `batch at row ${firstRow} is shorter than its length`);
    return {
      elements,
      copy(from, n, into, at) {
        for (let k = 0; k < n; k++) {
          const bit = bitOffset + from + k;
          into[at + k] = ((bytes[bit >> 3] ?? 0) >> (bit & 7)) & 1;
        }
      },
    };
  }
  const itemSize = ITEM_SIZE[layout.dtype];
  if (bytes.length < elements * itemSize) throw corrupt(file, `batch at row ${firstRow} is shorter than its length`);
  return {
    elements,
    copy: (from, n, into, at) => into.set(bytes.subarray(from * itemSize, (from + n) * itemSize), at * itemSize),
  };
}

// ---------------------------------------------------------------------------
// Chunks across batch boundaries.

type BatchPull = () => Promise<RecordBatch | undefined>;

/**
 * Serves chunk(start, count) from batches pulled one at a time: only the
 * current batch is held. Chunks are asked for in order but without waiting
 * for each other, so requests are queued and served one after another.
 */
export class BatchCursor {
  readonly #file: string;
  readonly #layout: ColumnLayout;
  readonly #pull: BatchPull;
  #segment: Segment | undefined;
  #position = 0;
  #served = 0;
  #rowsSeen = 0;
  #queue: Promise<unknown> = Promise.resolve();
  #failure: SmoothL1Error | undefined;

  constructor(file: string, layout: ColumnLayout, pull: BatchPull) {
    this.#file = file;
    this.#layout = layout;
    this.#pull = pull;
  }

  get rowsSeen(): number {
    return this.#rowsSeen;
  }

  /** Runs `job` after every earlier request; once one fails, all later ones fail the same way. */
  serialize<T>(job: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(async () => {
      if (this.#failure !== undefined) throw this.#failure;
      try {
        return await job();
      } catch (err) {
        this.#failure = arrowError(this.#file, err);
        throw this.#failure;
      }
    });
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /** The next batch as a segment: null for one without elements, undefined at the end. */
  async #pullSegment(): Promise<Segment | null | undefined> {
    const batch = await this.#pull();
    if (batch === undefined) return undefined;
    if (batch.numRows === 0) return null;
    const column = batch.data.children[this.#layout.index];
    if (column === undefined) throw corrupt(this.#file, 'a record batch lacks the column');
    const segment = batchSegment(this.#file, this.#layout, column, batch.numRows, this.#rowsSeen);
    this.#rowsSeen += batch.numRows;
    return segment.elements > 0 ? segment : null;
  }

  /** The next batch with elements; undefined at the end. */
  async #nextSegment(): Promise<Segment | undefined> {
    for (;;) {
      const segment = await this.#pullSegment();
      if (segment !== null) return segment;
    }
  }

  /** Elements [start, start + count) in a fresh buffer; `ended` says what running out of batches means. */
  async fill(start: number, count: number, ended: () => SmoothL1Error): Promise<Chunk> {
    if (start !== this.#served) throw internalError(`Arrow chunks must be read in order: asked for ${start}, next is ${this.#served}`);
    const itemSize = ITEM_SIZE[this.#layout.dtype];
    const buffer = new ArrayBuffer(count * itemSize);
    const into = new Uint8Array(buffer);
    for (let filled = 0; filled < count; ) {
      if (this.#segment === undefined || this.#position === this.#segment.elements) {
        this.#segment = await this.#nextSegment();
        this.#position = 0;
        if (this.#segment === undefined) throw ended();
      }
      const n = Math.min(count - filled, this.#segment.elements - this.#position);
      this.#segment.copy(this.#position, n, into, filled);
      this.#position += n;
      filled += n;
    }
    this.#served += count;
    return { kind: 'bytes', buffer, byteOffset: 0, byteLength: buffer.byteLength };
  }

  /**
   * True when the batches hold more than `limit` rows. Reads on until they
   * do or end, so call it only once everything wanted has been served.
   */
  async rowsBeyond(limit: number): Promise<boolean> {
    while (this.#rowsSeen <= limit) {
      const segment = await this.#pullSegment();
      if (segment === undefined) return false;
    }
    return true;
  }
}

export type OpenReader = AsyncRecordBatchFileReader | AsyncRecordBatchStreamReader;

/** apache-arrow's reader, opened without letting it close our handle or stream when it ends. */
export async function openReader(source: FileHandle | AsyncIterable<Uint8Array>): Promise<OpenReader> {
  const reader = Symbol.asyncIterator in source ? await RecordBatchReader.from(source) : await RecordBatchReader.from(source);
  return reader.open({ autoDestroy: false });
}

export const pullFrom =
  (reader: OpenReader): BatchPull =>
  async () => {
    const r = await reader.next();
    return r.done === true ? undefined : r.value;
  };
