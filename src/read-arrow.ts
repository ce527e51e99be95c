import { readSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import {
  AsyncByteStream,
  MetadataVersion,
  Type,
  type AsyncRecordBatchFileReader,
  type AsyncRecordBatchStreamReader,
  DataType,
  Precision,
  RecordBatchReader,
  type Data,
  type Field,
  type RecordBatch,
  type Schema,
} from 'apache-arrow';
import {
  arrowFormat,
  CONTINUATION,
  EXTENSION_METADATA,
  EXTENSION_NAME,
  FILE_MAGIC,
  FIXED_SHAPE_TENSOR,
  int32At,
  MAX_METADATA_BYTES,
  startsWith,
} from './arrow-ipc.js';
import { checkFooter, checkMessage, corrupt, refuseCompressed, STRUCT_16, withFlatbuffer, type Block, type MessageInfo } from './arrow-metadata.js';
import { ITEM_SIZE } from './dtype.js';
import { fromSystemError, SmoothL1Error } from './errors.js';
import type { ByteOrder, Chunk, DType, TensorSource, UnsizedTensorSource } from './tensor.js';

/*
 * Arrow IPC (https://arrow.apache.org/docs/format/Columnar.html#serialization-and-interprocess-communication-ipc)
 * in, one column, one record batch at a time (issue 4). apache-arrow decodes
 * schemas and record batches. This module checks every message's metadata
 * before apache-arrow sees it (which also counts the rows up front and finds
 * the schema's byte order, which apache-arrow drops), picks the column, and
 * serves chunks that need not line up with batches: byte ranges of the file
 * where the column's values can be located with certainty, else elements
 * copied out of apache-arrow's record batches.
 */



export interface ArrowReadOptions {
  /** The field to read (--input-column / --label-column); without it the schema must have exactly one field. */
  readonly column?: string | undefined;
}



const list = (names: readonly string[]): string => names.map((n) => `'${n}'`).join(', ');

const noSuchColumn = (file: string, name: string, names: readonly string[]): SmoothL1Error =>
  new SmoothL1Error(file, `no column '${name}'; the columns are ${list(names)}`);
const ambiguousColumn = (file: string, name: string, count: number): SmoothL1Error =>
  new SmoothL1Error(file, `column name '${name}' appears ${count} times; cannot tell which to read`);
const chooseColumn = (file: string, names: readonly string[]): SmoothL1Error =>
  new SmoothL1Error(file, `${names.length} columns (${list(names)}); choose one with --input-column or --label-column`);
const unsupportedType = (file: string, column: string, type: string): SmoothL1Error =>
  new SmoothL1Error(file, `column '${column}' has type ${type}; smoothl1 reads bool, integer and float columns and fixed-size lists of them`);
const nullAt = (file: string, column: string, row: number): SmoothL1Error =>
  new SmoothL1Error(file, `column '${column}' has a null at row ${row}; every element must be present`);
// apache-arrow would switch to the new schema in mid-stream, under the column we chose.
const secondSchema = (file: string): SmoothL1Error => corrupt(file, 'a second schema in the middle of the stream');
const fewerRows = (file: string, found: number, expected: number): SmoothL1Error =>
  new SmoothL1Error(file, `shapes differ: the stream ended after ${found} rows, the other input has ${expected}`);
const moreRows = (file: string, expected: number): SmoothL1Error =>
  new SmoothL1Error(file, `shapes differ: the stream has more than the ${expected} rows of the other input`);

/** Maps anything apache-arrow or the file system throws to one SmoothL1Error line. */
function arrowError(file: string, err: unknown): SmoothL1Error {
  if (err instanceof SmoothL1Error) return err;
  // errno codes (ENOENT, EIO, …), not Node's own ERR_* codes.
  if (err instanceof Error && 'code' in err && typeof err.code === 'string' && /^E[A-Z0-9]+$/.test(err.code)) {
    return fromSystemError(file, err);
  }
  // apache-arrow rejects some promises with plain objects ({ done, value }), not Errors.
  return corrupt(file, err instanceof Error ? err.message : 'unreadable message');
}

/** A file holds at least the leading magic padded to 8 bytes, a footer length and the trailing magic. */
const MIN_FILE_BYTES = 8 + 4 + FILE_MAGIC.length;

// ---------------------------------------------------------------------------
// Message framing: since format 0.15 a continuation marker, a 4-byte
// metadata length, the metadata, then the body; before it, no marker.

/** Bytes before the metadata, the metadata length, given a message's first 8 bytes (or 4 at the end). */
function framing(file: string, head: Uint8Array, position: number): { prefix: number; length: number } {
  const first = int32At(head, 0);
  const prefix = first === CONTINUATION ? 8 : 4;
  if (prefix > head.length) throw corrupt(file, 'input ends inside a message length');
  const length = first === CONTINUATION ? int32At(head, 4) : first;
  if (length < 0 || length > MAX_METADATA_BYTES) throw corrupt(file, `bad message length ${length} at byte ${position}`);
  return { prefix, length };
}

/** Where a checked record batch message lies in a file. */
interface BatchRef {
  readonly rows: number;
  readonly metadataAt: number;
  readonly metadataLength: number;
  readonly bodyStart: number;
  readonly bodyLength: number;
}

interface MessageAt {
  readonly info: MessageInfo;
  readonly ref: BatchRef;
  /** Where the next message starts. */
  readonly next: number;
}

async function readExactly(file: string, handle: FileHandle, position: number, length: number, size: number): Promise<Uint8Array> {
  if (position < 0 || position + length > size) throw corrupt(file, `file ends at byte ${size}, inside a message that needs ${position + length}`);
  const bytes = new Uint8Array(length);
  await readInto(file, handle, bytes, position);
  return bytes;
}

/**
 * Fills `into` from the file at `position`. Synchronous: opening a file
 * walks every message header, hundreds of small reads, and a round trip
 * through libuv's thread pool for each cost more than the reads themselves.
 */
async function readInto(file: string, handle: FileHandle, into: Uint8Array, position: number): Promise<void> {
  for (let filled = 0; filled < into.length; ) {
    const bytesRead = readSync(handle.fd, into, filled, into.length - filled, position + filled);
    if (bytesRead === 0) throw new SmoothL1Error(file, 'file became shorter while it was being read');
    filled += bytesRead;
  }
}

/** The message at `position`, checked, or undefined at an end-of-stream marker or the end of the file. */
async function readMessageAt(file: string, handle: FileHandle, position: number, size: number): Promise<MessageAt | undefined> {
  if (position + 4 > size) return undefined;
  const head = await readExactly(file, handle, position, Math.min(8, size - position), size);
  const { prefix, length } = framing(file, head, position);
  if (length === 0) return undefined;
  const info = checkMessage(file, await readExactly(file, handle, position + prefix, length, size));
  refuseCompressed(file, info);
  const bodyStart = position + prefix + length;
  const next = bodyStart + info.bodyLength;
  if (next > size) throw corrupt(file, `file ends at byte ${size}, inside a message body that ends at ${next}`);
  const rows = info.kind === 'record batch' ? info.batch.rows : 0;
  return { info, next, ref: { rows, metadataAt: position + prefix, metadataLength: length, bodyStart, bodyLength: info.bodyLength } };
}

interface FileScan {
  readonly size: number;
  readonly byteOrder: ByteOrder;
  readonly rows: number;
  /** The record batches in the order apache-arrow reads them. */
  readonly batches: readonly BatchRef[];
}

const sumRows = (batches: readonly BatchRef[]): number => batches.reduce((n, b) => n + b.rows, 0);

/** Checks every message of an IPC stream stored in a file (headers only, no bodies). */
async function scanStreamFile(file: string, handle: FileHandle, size: number): Promise<FileScan> {
  const first = await readMessageAt(file, handle, 0, size);
  if (first === undefined || first.info.kind !== 'schema') throw corrupt(file, 'the stream does not start with a schema');
  const batches: BatchRef[] = [];
  for (let at: MessageAt | undefined, position = first.next; (at = await readMessageAt(file, handle, position, size)); position = at.next) {
    if (at.info.kind === 'schema') throw secondSchema(file);
    if (at.info.kind === 'record batch') batches.push(at.ref);
  }
  return { size, byteOrder: first.info.byteOrder, rows: sumRows(batches), batches };
}

/**
 * Checks an IPC file's footer and every message it lists (headers only, no
 * bodies); the byte order comes from the footer's schema, as apache-arrow
 * writes no schema message into a file. The ends are checked first, so
 * that nothing reads garbage as a footer.
 */
async function scanIpcFile(file: string, handle: FileHandle, size: number): Promise<FileScan> {
  if (size < MIN_FILE_BYTES) throw corrupt(file, `${size} bytes is too short for an Arrow IPC file`);
  const tail = await readExactly(file, handle, size - FILE_MAGIC.length - 4, FILE_MAGIC.length + 4, size);
  if (!startsWith(tail, FILE_MAGIC, 4)) throw corrupt(file, 'no ARROW1 magic at the end; the file is truncated');
  const footerLength = int32At(tail, 0);
  if (footerLength <= 0 || footerLength > size - MIN_FILE_BYTES) throw corrupt(file, `bad footer length ${footerLength}`);
  const footer = checkFooter(file, await readExactly(file, handle, size - tail.length - footerLength, footerLength, size));
  const expect = async (block: Block, kind: MessageInfo['kind']): Promise<BatchRef> => {
    const at = await readMessageAt(file, handle, block.offset, size);
    if (at === undefined || at.info.kind !== kind) throw corrupt(file, `the footer lists a ${kind} at byte ${block.offset} that is not there`);
    return at.ref;
  };
  for (const block of footer.dictionaries) await expect(block, 'dictionary batch');
  const batches: BatchRef[] = [];
  for (const block of footer.recordBatches) batches.push(await expect(block, 'record batch'));
  return { size, byteOrder: footer.byteOrder, rows: sumRows(batches), batches };
}

// ---------------------------------------------------------------------------
// Column selection and type.

interface ColumnLayout {
  readonly index: number;
  readonly name: string;
  readonly dtype: DType;
  /** The shape of one row: empty for a primitive column, the list sizes for fixed-size lists. */
  readonly rowShape: readonly number[];
  /** Elements per row. */
  readonly rowWidth: number;
  /** The sizes of the fixed-size lists as stored, outermost first (one for a fixed_shape_tensor). */
  readonly listSizes: readonly number[];
}

function pickField(file: string, schema: Schema, column: string | undefined): number {
  const names = schema.fields.map((f: Field) => f.name);
  if (names.length === 0) throw new SmoothL1Error(file, 'the Arrow schema has no columns');
  if (column === undefined) {
    if (names.length > 1) throw chooseColumn(file, names);
    return 0;
  }
  const matches = names.filter((n) => n === column).length;
  if (matches === 0) throw noSuchColumn(file, column, names);
  if (matches > 1) throw ambiguousColumn(file, column, matches);
  return names.indexOf(column);
}

/** Unsigned and signed integer dtypes by bit width. */
const INT_DTYPES: Readonly<Record<number, readonly [DType, DType]>> = {
  8: ['uint8', 'int8'],
  16: ['uint16', 'int16'],
  32: ['uint32', 'int32'],
  64: ['uint64', 'int64'],
};

/** Our dtype for an Arrow primitive type, or undefined if we do not read it. */
function leafDType(type: DataType): DType | undefined {
  if (DataType.isBool(type)) return 'bool';
  if (DataType.isFloat(type)) {
    if (type.precision === Precision.HALF) return 'float16';
    return type.precision === Precision.SINGLE ? 'float32' : 'float64';
  }
  if (DataType.isInt(type)) return INT_DTYPES[type.bitWidth]?.[type.isSigned ? 1 : 0];
  return undefined;
}

/** The list sizes of nested fixed-size lists and the primitive type under them. */
function unnest(file: string, field: Field): { dtype: DType; sizes: number[] } {
  const sizes: number[] = [];
  let type: DataType = field.type;
  while (DataType.isFixedSizeList(type)) {
    sizes.push(type.listSize);
    type = type.valueType;
  }
  const dtype = leafDType(type);
  if (dtype === undefined) throw unsupportedType(file, field.name, String(field.type));
  return { dtype, sizes };
}

const isDims = (x: unknown): x is number[] =>
  Array.isArray(x) && x.every((d) => typeof d === 'number' && Number.isSafeInteger(d) && d >= 0);

/**
 * The row shape an `arrow.fixed_shape_tensor` field declares
 * (https://arrow.apache.org/docs/format/CanonicalExtensions.html#fixed-shape-tensor):
 * storage is FixedSizeList<T>[prod(shape)], elements in row-major order
 * unless a permutation says otherwise.
 */
function tensorRowShape(file: string, field: Field, sizes: readonly number[]): number[] {
  const bad = (why: string): SmoothL1Error => new SmoothL1Error(file, `column '${field.name}': bad ${FIXED_SHAPE_TENSOR} metadata (${why})`);
  let meta: unknown;
  try {
    meta = JSON.parse(field.metadata.get(EXTENSION_METADATA) ?? '');
  } catch {
    throw bad('not JSON');
  }
  if (meta === null || typeof meta !== 'object' || !('shape' in meta) || !isDims(meta.shape)) throw bad('no "shape" list');
  const { shape } = meta;
  if (sizes.length !== 1 || sizes[0] !== shape.reduce((n, d) => n * d, 1)) {
    throw bad(`storage ${String(field.type)} does not hold shape [${shape.join(', ')}]`);
  }
  if ('permutation' in meta && meta.permutation !== null) {
    const p = meta.permutation;
    if (!isDims(p) || p.length !== shape.length || p.some((d, i) => d !== i)) {
      throw new SmoothL1Error(file, `column '${field.name}': ${FIXED_SHAPE_TENSOR} with permutation ${JSON.stringify(p)} is unsupported; store the elements in row-major order`);
    }
  }
  return shape;
}

function columnLayout(file: string, schema: Schema, column: string | undefined): ColumnLayout {
  const index = pickField(file, schema, column);
  const field: Field = schema.fields[index]!;
  if (DataType.isDictionary(field.type)) throw unsupportedType(file, field.name, String(field.type));
  const extension = field.metadata.get(EXTENSION_NAME);
  if (extension !== undefined && extension !== FIXED_SHAPE_TENSOR) {
    throw new SmoothL1Error(file, `column '${field.name}' has extension type ${extension}, which smoothl1 does not read`);
  }
  const { dtype, sizes } = unnest(file, field);
  const rowShape = extension === FIXED_SHAPE_TENSOR ? tensorRowShape(file, field, sizes) : sizes;
  return { index, name: field.name, dtype, rowShape, rowWidth: rowShape.reduce((n, d) => n * d, 1), listSizes: sizes };
}

// ---------------------------------------------------------------------------
// One record batch's elements of the column.

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
  if (!ArrayBuffer.isView(values)) throw new Error('apache-arrow gave a primitive column without a values buffer');
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
  for (;;) {
    const i = firstNull(data, items);
    if (i !== undefined) throw nullAt(file, layout.name, firstRow + Math.floor(i / perRow));
    if (!DataType.isFixedSizeList(data.type)) break;
    const size: number = data.type.listSize;
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
class BatchCursor {
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
    if (start !== this.#served) throw new Error(`Arrow chunks must be read in order: asked for ${start}, next is ${this.#served}`);
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

type OpenReader = AsyncRecordBatchFileReader | AsyncRecordBatchStreamReader;

/** apache-arrow's reader, opened without letting it close our handle or stream when it ends. */
async function openReader(source: FileHandle | AsyncIterable<Uint8Array>): Promise<OpenReader> {
  const reader = Symbol.asyncIterator in source ? await RecordBatchReader.from(source) : await RecordBatchReader.from(source);
  return reader.open({ autoDestroy: false });
}

const pullFrom =
  (reader: OpenReader): BatchPull =>
  async () => {
    const r = await reader.next();
    return r.done === true ? undefined : r.value;
  };

function checkSize(file: string, layout: ColumnLayout, rows: number): readonly number[] {
  const shape = [rows, ...layout.rowShape];
  if (!Number.isSafeInteger(rows * layout.rowWidth * 8)) throw new SmoothL1Error(file, 'shape too large');
  return shape;
}

// ---------------------------------------------------------------------------
// Byte ranges: the fast path for files. In an uncompressed IPC file the
// values of a primitive column are one contiguous byte range per record
// batch. Once every batch header is known, a chunk inside one batch is just
// such a range, which a worker reads itself, as for .npy: no read or copy
// on this thread. apache-arrow still decodes the schema and, as a check on
// where we locate the values, the first batch; anything we cannot locate
// with certainty (bool, nulls, layouts we do not count, any inconsistency)
// goes through apache-arrow's record batch reader instead.

/** How many field nodes and buffers a field takes in a record batch's lists. */
interface Slots {
  readonly node: number;
  readonly buffer: number;
}

/**
 * Buffers of a type's own node, in the order apache-arrow's VectorLoader
 * takes them (Columnar.html, "Buffer Listing for Each Layout"); undefined
 * for layouts we do not count (views, with their variadic buffers).
 */
function ownBuffers(type: DataType, v5: boolean): number | undefined {
  switch (type.typeId) {
    case Type.Null:
      return 0;
    case Type.Struct:
    case Type.FixedSizeList:
      return 1;
    case Type.List:
    case Type.LargeList:
    case Type.Map:
    case Type.Dictionary:
      return 2;
    case Type.Binary:
    case Type.Utf8:
    case Type.LargeBinary:
    case Type.LargeUtf8:
      return 3;
    case Type.Union:
      // Unions lost their validity bitmap in format V5.
      return (DataType.isSparseUnion(type) ? 1 : 2) + (v5 ? 0 : 1);
    case Type.Bool:
    case Type.Int:
    case Type.Float:
    case Type.Decimal:
    case Type.Date:
    case Type.Time:
    case Type.Timestamp:
    case Type.Interval:
    case Type.Duration:
    case Type.FixedSizeBinary:
      return 2;
    default:
      return undefined;
  }
}

/** Nodes and buffers of a field and its children (a dictionary's values live in dictionary batches). */
function slotsOf(type: DataType, v5: boolean): Slots | undefined {
  const own = ownBuffers(type, v5);
  if (own === undefined) return undefined;
  let node = 1;
  let buffer = own;
  // Primitive types have no children array at all, whatever their typing says.
  const children: unknown = DataType.isDictionary(type) ? [] : type.children;
  for (const child of Array.isArray(children) ? (children as readonly Field[]) : []) {
    const c = slotsOf(child.type, v5);
    if (c === undefined) return undefined;
    node += c.node;
    buffer += c.buffer;
  }
  return { node, buffer };
}

/** Where column `index` starts in each batch's node and buffer lists: after all earlier fields. */
function columnSlots(schema: Schema, index: number): Slots | undefined {
  const v5 = schema.metadataVersion >= MetadataVersion.V5;
  let node = 0;
  let buffer = 0;
  for (const field of schema.fields.slice(0, index)) {
    const s = slotsOf(field.type, v5);
    if (s === undefined) return undefined;
    node += s.node;
    buffer += s.buffer;
  }
  return { node, buffer };
}

/** A batch's values of our column as a byte range of the file. */
interface RangeSegment {
  /** Index of its first element in the whole tensor. */
  readonly first: number;
  readonly elements: number;
  readonly position: number;
}

/**
 * The file position of a batch's values of our column, from its (already
 * checked) metadata; undefined when anything is not as the schema says or
 * the column has nulls, so that apache-arrow's reader takes over.
 */
function segmentPosition(file: string, metadata: Uint8Array, batch: BatchRef, layout: ColumnLayout, slots: Slots): number | undefined {
  return withFlatbuffer(file, 'message metadata', metadata, (fb) => {
    const header = fb.child(fb.table(0), 2);
    if (header === undefined) return undefined;
    const nodes = fb.vector(header, 1, STRUCT_16);
    const buffers = fb.vector(header, 2, STRUCT_16);
    const levels = layout.listSizes.length;
    // One node per list level and the leaf; a validity buffer for each, then the leaf's values.
    if (slots.node + levels >= nodes.length || slots.buffer + levels + 1 >= buffers.length) return undefined;
    let items = batch.rows;
    for (let level = 0; level <= levels; level++) {
      const node = nodes.start + STRUCT_16 * (slots.node + level);
      if (fb.i64(node) !== items || fb.i64(node + 8) !== 0) return undefined;
      items *= layout.listSizes[level] ?? 1;
    }
    const values = buffers.start + STRUCT_16 * (slots.buffer + levels + 1);
    const offset = fb.i64(values);
    const needed = batch.rows * layout.rowWidth * ITEM_SIZE[layout.dtype];
    if (offset < 0 || fb.i64(values + 8) < needed || offset + needed > batch.bodyLength) return undefined;
    return batch.bodyStart + offset;
  });
}

/** Every batch's values as a byte range, or undefined if any cannot be located with certainty. */
async function rangeSegments(file: string, handle: FileHandle, scan: FileScan, layout: ColumnLayout, slots: Slots): Promise<RangeSegment[] | undefined> {
  const segments: RangeSegment[] = [];
  let first = 0;
  for (const batch of scan.batches) {
    const elements = batch.rows * layout.rowWidth;
    if (elements === 0) continue;
    const metadata = await readExactly(file, handle, batch.metadataAt, batch.metadataLength, scan.size);
    const position = segmentPosition(file, metadata, batch, layout, slots);
    if (position === undefined) return undefined;
    segments.push({ first, elements, position });
    first += elements;
  }
  return segments;
}

/** Up to this many elements of the first batch are compared with what apache-arrow decodes there. */
const CROSS_CHECK_ELEMENTS = 4096;

/** True when the first range holds what apache-arrow's reader decodes for the same elements. */
async function agreesWithReader(file: string, handle: FileHandle, layout: ColumnLayout, segment: RangeSegment, reader: OpenReader): Promise<boolean> {
  const n = Math.min(segment.elements, CROSS_CHECK_ELEMENTS);
  const decoded = await new BatchCursor(file, layout, pullFrom(reader)).fill(0, n, () => corrupt(file, 'no record batch to check'));
  if (decoded.kind !== 'bytes') return false;
  const raw = new Uint8Array(n * ITEM_SIZE[layout.dtype]);
  await readInto(file, handle, raw, segment.position);
  const expected = new Uint8Array(decoded.buffer, decoded.byteOffset, decoded.byteLength);
  return raw.every((b, i) => b === expected[i]);
}

/** Index of the segment holding element `start`. */
function segmentAt(segments: readonly RangeSegment[], start: number): number {
  let lo = 0;
  let hi = segments.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (segments[mid]!.first <= start) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/**
 * A range chunk may span this many record batches: a worker reads each
 * piece with a read of its own. A chunk over more (tiny batches) is read
 * here into one buffer instead, with one read of the whole span when the
 * gaps between batches are small.
 */
const MAX_RANGE_PIECES = 64;

/**
 * The largest chunk that is always a range: one that spans at most
 * MAX_RANGE_PIECES batches, given the smallest batch (the last one aside,
 * which only adds a piece at the end).
 */
export function rangeChunkElements(segments: readonly Pick<RangeSegment, 'elements'>[]): number {
  // A loop, not Math.min(...): a file may hold more batches than a call takes arguments.
  let smallest = Infinity;
  for (let i = 0; i < segments.length - 1; i++) smallest = Math.min(smallest, segments[i]!.elements);
  return smallest === Infinity ? Infinity : (MAX_RANGE_PIECES - 2) * smallest;
}

/** Chunks from byte ranges, in any order (see MAX_RANGE_PIECES). */
function rangeChunks(file: string, handle: FileHandle, segments: readonly RangeSegment[], itemSize: number): TensorSource['chunk'] {
  return async (start, count) => {
    const pieces: { at: number; position: number; byteLength: number }[] = [];
    for (let i = segmentAt(segments, start), done = 0; done < count; i++) {
      const s = segments[i];
      if (s === undefined || start + done < s.first) throw corrupt(file, `no record batch holds element ${start + done}`);
      const from = start + done - s.first;
      const n = Math.min(count - done, s.elements - from);
      pieces.push({ at: done * itemSize, position: s.position + from * itemSize, byteLength: n * itemSize });
      done += n;
    }
    if (pieces.length <= MAX_RANGE_PIECES) {
      return { kind: 'range', fd: handle.fd, pieces: pieces.map(({ position, byteLength }) => ({ position, byteLength })), byteLength: count * itemSize };
    }
    const out = new Uint8Array(count * itemSize);
    let low = Infinity;
    let high = 0;
    for (const p of pieces) {
      low = Math.min(low, p.position);
      high = Math.max(high, p.position + p.byteLength);
    }
    if (high - low <= 2 * out.length) {
      const span = new Uint8Array(high - low);
      await readInto(file, handle, span, low);
      for (const p of pieces) out.set(span.subarray(p.position - low, p.position - low + p.byteLength), p.at);
    } else {
      for (const p of pieces) await readInto(file, handle, out.subarray(p.at, p.at + p.byteLength), p.position);
    }
    return { kind: 'bytes', buffer: out.buffer, byteOffset: 0, byteLength: out.byteLength };
  };
}

/**
 * The fast path's chunk function, or undefined when the column must go
 * through apache-arrow's record batch reader. Uses `reader` for the cross
 * check, so the caller needs a fresh reader if this gives undefined.
 */
async function byteRangeChunks(
  file: string,
  handle: FileHandle,
  scan: FileScan,
  layout: ColumnLayout,
  reader: OpenReader,
): Promise<Pick<TensorSource, 'chunk' | 'rangeChunkElements'> | undefined> {
  // Arrow bit-packs booleans: those need unpacking here.
  if (layout.dtype === 'bool') return undefined;
  const slots = reader.schema.metadataVersion >= MetadataVersion.V4 ? columnSlots(reader.schema, layout.index) : undefined;
  if (slots === undefined) return undefined;
  const segments = await rangeSegments(file, handle, scan, layout, slots);
  const first = segments?.[0];
  if (segments === undefined) return undefined;
  if (first !== undefined && !(await agreesWithReader(file, handle, layout, first, reader))) return undefined;
  return { chunk: rangeChunks(file, handle, segments, ITEM_SIZE[layout.dtype]), rangeChunkElements: rangeChunkElements(segments) };
}

// ---------------------------------------------------------------------------
// Entry points.

/**
 * Reads an Arrow IPC file, or an IPC stream stored in a file, from a
 * seekable handle. Every message header is checked and the rows counted
 * before any element is read (from the footer's record batch list, or by
 * walking the stream's headers and skipping bodies), so the header's shape
 * is final. Chunks are byte ranges that workers read themselves (see
 * "Byte ranges"), or else come from apache-arrow's reader one record batch
 * at a time; either way memory stays at about one batch. Chunks may be
 * asked for in any order on the first path, in increasing order on the
 * second. Closing the source closes `handle`; on failure the caller closes it.
 */
export async function openArrowFile(file: string, handle: FileHandle, options: ArrowReadOptions = {}): Promise<TensorSource> {
  try {
    const { size } = await handle.stat();
    if (size === 0) throw new SmoothL1Error(file, 'empty file (0 bytes), not an Arrow IPC file or stream');
    const format = arrowFormat(await readExactly(file, handle, 0, Math.min(8, size), size));
    if (format === undefined) throw new SmoothL1Error(file, 'not an Arrow IPC file or stream (unrecognised magic bytes)');
    // Every message header is checked before apache-arrow decodes any of them.
    const scan = format === 'file' ? await scanIpcFile(file, handle, size) : await scanStreamFile(file, handle, size);
    const { byteOrder, rows } = scan;
    const reader = await openReader(handle);
    const layout = columnLayout(file, reader.schema, options.column);
    const header = { file, dtype: layout.dtype, byteOrder, shape: checkSize(file, layout, rows), fortranOrder: false };
    // Not reader.cancel(): that would close the handle behind our back; closing it is ours.
    const close = (): Promise<void> => handle.close();
    const ranges = await byteRangeChunks(file, handle, scan, layout, reader);
    if (ranges !== undefined) return { header, ...ranges, close };
    const cursor = new BatchCursor(file, layout, pullFrom(await openReader(handle)));
    return {
      header,
      chunk: (start, count) => cursor.serialize(() => cursor.fill(start, count, () => corrupt(file, `record batches end before row ${rows}`))),
      close,
    };
  } catch (err) {
    throw arrowError(file, err);
  }
}


/** Up to `n` bytes of the stream (fewer only at its end). */
const readUpTo = async (bytes: AsyncByteStream, n: number): Promise<Uint8Array> => (await bytes.read(n)) ?? new Uint8Array(0);

/** Bodies pass through in pieces of at most this size, so a corrupt body length cannot make us buffer the whole input. */
const BODY_PIECE = 64 << 20;

/**
 * The stream's bytes, unchanged, with each message's metadata checked
 * before it is passed on to apache-arrow. Sets `order` from the schema.
 */
async function* checkedMessages(file: string, bytes: AsyncByteStream, order: { byteOrder?: ByteOrder }): AsyncGenerator<Uint8Array> {
  for (let position = 0; ; ) {
    const head = (await bytes.peek(8)) ?? new Uint8Array(0);
    // The end of the input, which may come without an end-of-stream marker;
    // apache-arrow ignores up to 3 stray bytes there too.
    if (head.length < 4) return;
    const { prefix, length } = framing(file, head, position);
    yield await readUpTo(bytes, prefix);
    // The end-of-stream marker: apache-arrow stops reading here too.
    if (length === 0) return;
    const metadata = await readUpTo(bytes, length);
    if (metadata.length < length) throw corrupt(file, 'the stream ends inside a message');
    const info = checkMessage(file, metadata);
    if ((position === 0) !== (info.kind === 'schema')) throw position === 0 ? corrupt(file, 'the stream does not start with a schema') : secondSchema(file);
    if (info.kind === 'schema') order.byteOrder = info.byteOrder;
    refuseCompressed(file, info);
    yield metadata;
    for (let left = info.bodyLength; left > 0; ) {
      const piece = await readUpTo(bytes, Math.min(left, BODY_PIECE));
      if (piece.length === 0) throw corrupt(file, 'the stream ends inside a message body');
      yield piece;
      left -= piece.length;
    }
    position += prefix + length + info.bodyLength;
  }
}

/**
 * Reads an Arrow IPC stream from a non-seekable source (stdin), given from
 * its first byte. An IPC file there is refused: apache-arrow would buffer it
 * whole to find its footer. Memory stays at about one record batch.
 */
export async function openArrowStream(file: string, input: AsyncIterable<Uint8Array>, options: ArrowReadOptions = {}): Promise<UnsizedTensorSource> {
  let reader: OpenReader | undefined;
  const bytes = new AsyncByteStream(input);
  try {
    const head = await bytes.peek(8);
    if (head === null || head.length === 0) throw new SmoothL1Error(file, 'empty input (0 bytes), not an Arrow IPC stream');
    const format = arrowFormat(head);
    if (format === 'file') {
      throw new SmoothL1Error(file, 'an Arrow IPC file cannot be read from a pipe batch by batch; pass its path, or send an IPC stream');
    }
    if (format === undefined) throw new SmoothL1Error(file, 'not an Arrow IPC stream (unrecognised first bytes)');
    const order: { byteOrder?: ByteOrder } = {};
    reader = await openReader(checkedMessages(file, bytes, order));
    // Opening the reader has read the schema message through checkedMessages.
    const byteOrder = order.byteOrder ?? 'little';
    const layout = columnLayout(file, reader.schema, options.column);
    const cursor = new BatchCursor(file, layout, pullFrom(reader));
    const opened = reader;
    const close = async (): Promise<void> => {
      await opened.cancel();
      await bytes.cancel();
    };
    let sized = false;
    return {
      file,
      dtype: layout.dtype,
      byteOrder,
      rowShape: layout.rowShape,
      close,
      async withRows(rows) {
        if (sized) throw new Error('withRows may be called only once');
        sized = true;
        const shape = checkSize(file, layout, rows);
        const total = rows * layout.rowWidth;
        const checkRowCount = async (): Promise<void> => {
          if (await cursor.rowsBeyond(rows)) throw moreRows(file, rows);
          if (cursor.rowsSeen < rows) throw fewerRows(file, cursor.rowsSeen, rows);
        };
        if (total === 0) await cursor.serialize(checkRowCount);
        return {
          header: { file, dtype: layout.dtype, byteOrder, shape, fortranOrder: false },
          chunk: (start, count) =>
            cursor.serialize(async () => {
              const chunk = await cursor.fill(start, count, () => fewerRows(file, cursor.rowsSeen, rows));
              // The last chunk also proves the stream holds no more rows than promised.
              if (start + count === total) await checkRowCount();
              return chunk;
            }),
          close,
        };
      },
    };
  } catch (err) {
    await reader?.cancel().catch(() => undefined);
    await bytes.cancel().catch(() => undefined);
    throw arrowError(file, err);
  }
}
