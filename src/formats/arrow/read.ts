import type { FileHandle } from 'node:fs/promises';
import type { AsyncByteStream } from 'apache-arrow';
import type { OpenReader } from './batches.js';
import { arrowFormat, CONTINUATION, FILE_MAGIC, int32At, MAX_METADATA_BYTES, startsWith } from './magic.js';
import { columnLayout, columnSlots, refuseMisreadColumn, type ColumnLayout, type Slots } from './column.js';
import { arrowError, checkFooter, checkMessage, corrupt, refuseCompressed, STRUCT_16, withFlatbuffer, type Block, type MessageInfo } from './metadata.js';
import type { ArrowSchema } from './schema.js';
import { ITEM_SIZE } from '../../tensor/dtype.js';
import { internalError, shapeTooLarge, SmoothL1Error } from '../../tensor/errors.js';
import { readFully } from '../../io/read-at.js';
import type { ByteOrder, TensorSource, UnsizedTensorSource } from '../../tensor/tensor.js';

/*
 * Arrow IPC (https://arrow.apache.org/docs/format/Columnar.html#serialization-and-interprocess-communication-ipc)
 * in, one column, one record batch at a time, never a whole table. This module checks
 * every message's metadata and decodes the schema itself (metadata.ts),
 * which also counts the rows up front and finds the schema's byte order;
 * column.ts picks the column. Chunks need not line up with batches:
 * they are byte ranges of the file where the column's values can be located
 * with certainty, else elements copied out of record batches that
 * apache-arrow decodes (batches.ts, loaded only then).
 */

export interface ArrowReadOptions {
  /** The field to read (--input-column / --label-column); without it the schema must have exactly one field. */
  readonly column?: string | undefined;
}

/** The record batch decoder, and apache-arrow with it, loaded on first need. */
const batchDecoding = (): Promise<typeof import('./batches.js')> => import('./batches.js');

// apache-arrow would switch to the new schema in mid-stream, under the column we chose.
const secondSchema = (file: string): SmoothL1Error => corrupt(file, 'a second schema in the middle of the stream');
const fewerRows = (file: string, found: number, expected: number): SmoothL1Error =>
  new SmoothL1Error('shape-mismatch', file, `shapes differ: the stream ended after ${found} rows, the other input has ${expected}`);
const moreRows = (file: string, expected: number): SmoothL1Error =>
  new SmoothL1Error('shape-mismatch', file, `shapes differ: the stream has more than the ${expected} rows of the other input`);

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

/** The `length` bytes at `position`, which must lie inside the file's `size` bytes. */
function readExactly(file: string, handle: FileHandle, position: number, length: number, size: number): Uint8Array {
  if (position < 0 || position + length > size) throw corrupt(file, `file ends at byte ${size}, inside a message that needs ${position + length}`);
  const bytes = new Uint8Array(length);
  readFully(file, handle.fd, bytes, position);
  return bytes;
}

/** The message at `position`, checked, or undefined at an end-of-stream marker or the end of the file. */
async function readMessageAt(file: string, handle: FileHandle, position: number, size: number): Promise<MessageAt | undefined> {
  if (position + 4 > size) return undefined;
  const head = readExactly(file, handle, position, Math.min(8, size - position), size);
  const { prefix, length } = framing(file, head, position);
  if (length === 0) return undefined;
  const info = checkMessage(file, readExactly(file, handle, position + prefix, length, size));
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
  readonly schema: ArrowSchema;
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
  return { size, byteOrder: first.info.byteOrder, schema: first.info.schema, rows: sumRows(batches), batches };
}

/**
 * Checks an IPC file's footer and every message it lists (headers only, no
 * bodies); the schema and byte order come from the footer, as apache-arrow
 * writes no schema message into a file. The ends are checked first, so
 * that nothing reads garbage as a footer.
 */
async function scanIpcFile(file: string, handle: FileHandle, size: number): Promise<FileScan> {
  if (size < MIN_FILE_BYTES) throw corrupt(file, `${size} bytes is too short for an Arrow IPC file`);
  const tail = readExactly(file, handle, size - FILE_MAGIC.length - 4, FILE_MAGIC.length + 4, size);
  if (!startsWith(tail, FILE_MAGIC, 4)) throw corrupt(file, 'no ARROW1 magic at the end; the file is truncated');
  const footerLength = int32At(tail, 0);
  if (footerLength <= 0 || footerLength > size - MIN_FILE_BYTES) throw corrupt(file, `bad footer length ${footerLength}`);
  const footer = checkFooter(file, readExactly(file, handle, size - tail.length - footerLength, footerLength, size));
  const expect = async (block: Block, kind: MessageInfo['kind']): Promise<BatchRef> => {
    const at = await readMessageAt(file, handle, block.offset, size);
    if (at === undefined || at.info.kind !== kind) throw corrupt(file, `the footer lists a ${kind} at byte ${block.offset} that is not there`);
    return at.ref;
  };
  for (const block of footer.dictionaries) await expect(block, 'dictionary batch');
  const batches: BatchRef[] = [];
  for (const block of footer.recordBatches) batches.push(await expect(block, 'record batch'));
  return { size, byteOrder: footer.byteOrder, schema: footer.schema, rows: sumRows(batches), batches };
}

function checkSize(file: string, layout: ColumnLayout, rows: number): readonly number[] {
  const shape = [rows, ...layout.rowShape];
  if (!Number.isSafeInteger(rows * layout.rowWidth * 8)) throw shapeTooLarge(file);
  return shape;
}

// ---------------------------------------------------------------------------
// Byte ranges: the fast path for files. In an uncompressed IPC file the
// values of a primitive column are one contiguous byte range per record
// batch. Once every batch header is known, a chunk inside one batch is just
// such a range, which a worker reads itself, as for .npy: no read or copy
// on this thread, and no apache-arrow. Anything we cannot locate with
// certainty (bool, nulls, layouts we do not count, any inconsistency) goes
// through apache-arrow's record batch reader instead.

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
    const metadata = readExactly(file, handle, batch.metadataAt, batch.metadataLength, scan.size);
    const position = segmentPosition(file, metadata, batch, layout, slots);
    if (position === undefined) return undefined;
    segments.push({ first, elements, position });
    first += elements;
  }
  return segments;
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
      readFully(file, handle.fd, span, low);
      for (const p of pieces) out.set(span.subarray(p.position - low, p.position - low + p.byteLength), p.at);
    } else {
      for (const p of pieces) readFully(file, handle.fd, out.subarray(p.at, p.at + p.byteLength), p.position);
    }
    return { kind: 'bytes', buffer: out.buffer, byteOffset: 0, byteLength: out.byteLength };
  };
}

/** The fast path's chunk function, or undefined when the column must go through apache-arrow's record batch reader. */
async function byteRangeChunks(
  file: string,
  handle: FileHandle,
  scan: FileScan,
  layout: ColumnLayout,
): Promise<Pick<TensorSource, 'chunk' | 'rangeChunkElements'> | undefined> {
  // Arrow bit-packs booleans: those need unpacking here.
  if (layout.dtype === 'bool') return undefined;
  const slots = columnSlots(scan.schema, layout.index);
  if (slots === undefined) return undefined;
  const segments = await rangeSegments(file, handle, scan, layout, slots);
  if (segments === undefined) return undefined;
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
    if (size === 0) throw new SmoothL1Error('not-a-tensor', file, 'empty file (0 bytes), not an Arrow IPC file or stream');
    const format = arrowFormat(readExactly(file, handle, 0, Math.min(8, size), size));
    if (format === undefined) throw new SmoothL1Error('not-a-tensor', file, 'not an Arrow IPC file or stream (unrecognised magic bytes)');
    // Every message header is checked before apache-arrow decodes any of them.
    const scan = format === 'file' ? await scanIpcFile(file, handle, size) : await scanStreamFile(file, handle, size);
    const { byteOrder, rows } = scan;
    const layout = columnLayout(file, scan.schema, options.column);
    const header = { file, dtype: layout.dtype, byteOrder, shape: checkSize(file, layout, rows), fortranOrder: false };
    // Not the reader's cancel(): that would close the handle behind our back; closing it is ours.
    const close = (): Promise<void> => handle.close();
    const ranges = await byteRangeChunks(file, handle, scan, layout);
    if (ranges !== undefined) return { header, ...ranges, close };
    refuseMisreadColumn(file, scan.schema, layout);
    const { BatchCursor, openReader, pullFrom } = await batchDecoding();
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
 * before it is passed on to apache-arrow. Sets `found` from the schema.
 */
async function* checkedMessages(file: string, bytes: AsyncByteStream, found: { schema?: ArrowSchema; byteOrder?: ByteOrder }): AsyncGenerator<Uint8Array> {
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
    if (info.kind === 'schema') {
      found.schema = info.schema;
      found.byteOrder = info.byteOrder;
    }
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
  const { AsyncByteStream, BatchCursor, openReader, pullFrom } = await batchDecoding();
  let reader: OpenReader | undefined;
  const bytes = new AsyncByteStream(input);
  try {
    const head = await bytes.peek(8);
    if (head === null || head.length === 0) throw new SmoothL1Error('not-a-tensor', file, 'empty input (0 bytes), not an Arrow IPC stream');
    const format = arrowFormat(head);
    if (format === 'file') {
      throw new SmoothL1Error('unsupported', file, 'an Arrow IPC file cannot be read from a pipe batch by batch; pass its path, or send an IPC stream');
    }
    if (format === undefined) throw new SmoothL1Error('not-a-tensor', file, 'not an Arrow IPC stream (unrecognised first bytes)');
    const found: { schema?: ArrowSchema; byteOrder?: ByteOrder } = {};
    reader = await openReader(checkedMessages(file, bytes, found));
    // Opening the reader has read the schema message through checkedMessages.
    if (found.schema === undefined) throw corrupt(file, 'the stream does not start with a schema');
    const byteOrder = found.byteOrder ?? 'little';
    const layout = columnLayout(file, found.schema, options.column);
    refuseMisreadColumn(file, found.schema, layout);
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
        if (sized) throw internalError('withRows may be called only once');
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
