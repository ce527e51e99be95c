/*
 * Message metadata, checked before apache-arrow decodes it. apache-arrow
 * trusts flatbuffer vector lengths (a corrupt one makes it loop millions of
 * times and run out of memory) and drops the schema's `endianness`. So we
 * walk each metadata flatbuffer ourselves first, bounds-checking every table,
 * vector and string apache-arrow will loop over, and read what we need: the
 * schema (see arrow-schema.ts), a batch's row count and body length.
 * Field numbers are those of Message.fbs, Schema.fbs and File.fbs.
 */
import { TypeId, type ArrowField, type ArrowSchema, type ArrowType } from './schema.js';
import { fromSystemError, SmoothL1Error } from '../../tensor/errors.js';
import type { ByteOrder } from '../../tensor/tensor.js';

/** The one error for metadata that is out of bounds or inconsistent. */
export const corrupt = (file: string, detail: string): SmoothL1Error =>
  new SmoothL1Error('corrupt', file, `corrupt or truncated Arrow IPC data (${detail})`);

/** Maps anything apache-arrow or the file system throws to one SmoothL1Error line. */
export function arrowError(file: string, err: unknown): SmoothL1Error {
  if (err instanceof SmoothL1Error) return err;
  // errno codes (ENOENT, EIO, …), not Node's own ERR_* codes.
  if (err instanceof Error && 'code' in err && typeof err.code === 'string' && /^E[A-Z0-9]+$/.test(err.code)) {
    return fromSystemError(file, err);
  }
  // apache-arrow rejects some promises with plain objects ({ done, value }), not Errors.
  return corrupt(file, err instanceof Error ? err.message : 'unreadable message');
}

const HEADER_NONE = 0;
const HEADER_SCHEMA = 1;
const HEADER_DICTIONARY_BATCH = 2;
const HEADER_RECORD_BATCH = 3;
const ENDIANNESS_BIG = 1;
/** A FieldNode and a Buffer are 16-byte structs; a file Block is 24 bytes (File.fbs). */
export const STRUCT_16 = 16;
const BLOCK_BYTES = 24;
/** More schema fields than any real schema has; protects against offsets that reuse subtrees. */
const MAX_FIELDS = 100_000;

const UTF8 = new TextDecoder();

/** Bounds-checked reads of one flatbuffer; any offset out of range is corruption. */
class Flatbuffer {
  readonly #file: string;
  readonly #what: string;
  readonly #view: DataView;
  #fields = 0;

  constructor(file: string, what: string, bytes: Uint8Array) {
    this.#file = file;
    this.#what = what;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  fail(why: string): SmoothL1Error {
    return corrupt(this.#file, `${this.#what}: ${why}`);
  }

  #within(at: number, length: number): number {
    if (at < 0 || at + length > this.#view.byteLength) throw this.fail('offset out of range');
    return at;
  }

  u8 = (at: number): number => this.#view.getUint8(this.#within(at, 1));
  i16 = (at: number): number => this.#view.getInt16(this.#within(at, 2), true);
  i32 = (at: number): number => this.#view.getInt32(this.#within(at, 4), true);
  u32 = (at: number): number => this.#view.getUint32(this.#within(at, 4), true);

  i64(at: number): number {
    const value = Number(this.#view.getBigInt64(this.#within(at, 8), true));
    if (!Number.isSafeInteger(value)) throw this.fail(`integer ${value} out of range`);
    return value;
  }

  /** The table that the offset stored at `at` points to (the root table for 0). */
  table(at: number): number {
    return this.#within(at + this.u32(at), 4);
  }

  /**
   * Where field `index` of `table` is stored, or undefined when it is absent
   * (has its default). Decides presence exactly as the flatbuffers library
   * apache-arrow uses does (signed 16-bit sizes, `slot < vtable size`), so
   * that we check every field it will read.
   */
  field(table: number, index: number): number | undefined {
    const vtable = table - this.i32(table);
    const slot = 4 + 2 * index;
    if (slot >= this.i16(vtable)) return undefined;
    const offset = this.i16(vtable + slot);
    if (offset === 0) return undefined;
    if (offset < 0) throw this.fail('negative field offset');
    return table + offset;
  }

  /** The table in field `index`, if present. */
  child(table: number, index: number): number | undefined {
    const at = this.field(table, index);
    return at === undefined ? undefined : this.table(at);
  }

  /** Start and length of the vector in field `index`, checked to fit. */
  vector(table: number, index: number, elementSize: number): { start: number; length: number } {
    const at = this.field(table, index);
    if (at === undefined) return { start: 0, length: 0 };
    const vector = this.table(at);
    const length = this.u32(vector);
    this.#within(vector + 4, length * elementSize);
    return { start: vector + 4, length };
  }

  /** Each table of the vector of tables in field `index`. */
  *tables(table: number, index: number): Generator<number> {
    const { start, length } = this.vector(table, index, 4);
    for (let i = 0; i < length; i++) yield this.table(start + 4 * i);
  }

  /** The string in field `index` ('' when absent), checked to fit. */
  string(table: number, index: number): string {
    const at = this.field(table, index);
    if (at === undefined) return '';
    const start = this.table(at) + 4;
    const length = this.u32(start - 4);
    this.#within(start, length);
    return UTF8.decode(new Uint8Array(this.#view.buffer, this.#view.byteOffset + start, length));
  }

  /** A scalar field, or its default when absent. */
  scalar(table: number, index: number, read: (at: number) => number, otherwise: number): number {
    const at = this.field(table, index);
    return at === undefined ? otherwise : read(at);
  }

  countField(): void {
    if (++this.#fields > MAX_FIELDS) throw this.fail(`more than ${MAX_FIELDS} fields`);
  }
}

/** Runs `read` over a flatbuffer; a DataView read past its end also means corruption. */
export function withFlatbuffer<T>(file: string, what: string, bytes: Uint8Array, read: (fb: Flatbuffer) => T): T {
  const fb = new Flatbuffer(file, what, bytes);
  try {
    return read(fb);
  } catch (err) {
    throw err instanceof RangeError ? fb.fail('offset out of range') : err;
  }
}

function keyValues(fb: Flatbuffer, table: number, index: number): Map<string, string> {
  const pairs = new Map<string, string>();
  for (const kv of fb.tables(table, index)) pairs.set(fb.string(kv, 0), fb.string(kv, 1));
  return pairs;
}

/** The Int table at `table` (Schema.fbs), defaults and all. */
const intType = (fb: Flatbuffer, table: number | undefined): ArrowType => ({
  id: TypeId.Int,
  bitWidth: table === undefined ? 0 : fb.scalar(table, 0, fb.i32, 0),
  signed: table !== undefined && fb.scalar(table, 1, fb.u8, 0) !== 0,
});

/** A field's type: the union member and, for the types whose layout or dtype depends on them, its parameters. */
function fieldType(fb: Flatbuffer, field: number): ArrowType {
  const id = fb.scalar(field, 2, fb.u8, 0);
  // Type NONE (0) is no type: apache-arrow would read it as Null, with no
  // buffers, and every later column would take an earlier one's buffers.
  if (id === 0) throw fb.fail('a field with no type (NONE)');
  const table = fb.child(field, 3);
  if (id === TypeId.Int) return intType(fb, table);
  if (table === undefined) return { id };
  if (id === TypeId.FloatingPoint) return { id, precision: fb.scalar(table, 0, fb.i16, 0) };
  if (id === TypeId.FixedSizeList) return { id, listSize: fb.scalar(table, 0, fb.i32, 0) };
  if (id === TypeId.Union) return { id, unionMode: fb.scalar(table, 0, fb.i16, 0) };
  return { id };
}

/** A Field (Schema.fbs): name, type, dictionary encoding, children, custom metadata. */
function readField(fb: Flatbuffer, field: number): ArrowField {
  fb.countField();
  const name = fb.string(field, 0);
  const type = fieldType(fb, field);
  const dictionary = fb.child(field, 4);
  const indexType = dictionary === undefined ? undefined : fb.child(dictionary, 1);
  // An absent index type means Int32 (Schema.fbs, DictionaryEncoding).
  const dictionaryIndex = dictionary === undefined ? undefined : indexType === undefined ? { id: TypeId.Int, bitWidth: 32, signed: true } : intType(fb, indexType);
  const children = [...fb.tables(field, 5)].map((child) => readField(fb, child));
  return { name, type, dictionaryIndex, children, metadata: keyValues(fb, field, 6) };
}

/** Reads a Schema table carried by a message or footer of metadata version `version`. */
function readSchema(fb: Flatbuffer, schema: number, version: number): { byteOrder: ByteOrder; schema: ArrowSchema } {
  const fields = [...fb.tables(schema, 1)].map((field) => readField(fb, field));
  keyValues(fb, schema, 2);
  fb.vector(schema, 3, 8);
  const endianness = fb.field(schema, 0);
  const byteOrder = endianness !== undefined && fb.i16(endianness) === ENDIANNESS_BIG ? 'big' : 'little';
  return { byteOrder, schema: { fields, version } };
}

interface RecordBatchInfo {
  readonly rows: number;
  readonly compressed: boolean;
}

/**
 * Checks a RecordBatch table: its field nodes are there (every schema we
 * read has a field, so a batch has a node; a table with none is a damaged
 * offset, not an empty batch), and every buffer lies inside the message body
 * of `bodyLength` bytes (a buffer past it would be read as nothing: as
 * zeros, or false).
 */
function checkRecordBatch(fb: Flatbuffer, batch: number, bodyLength: number): RecordBatchInfo {
  if (fb.vector(batch, 1, STRUCT_16).length === 0) throw fb.fail('a record batch with no field nodes');
  const buffers = fb.vector(batch, 2, STRUCT_16);
  for (let i = 0; i < buffers.length; i++) {
    const offset = fb.i64(buffers.start + STRUCT_16 * i);
    const length = fb.i64(buffers.start + STRUCT_16 * i + 8);
    if (offset < 0 || length < 0 || offset + length > bodyLength) {
      throw fb.fail(`buffer ${i} at bytes ${offset}..${offset + length} of a ${bodyLength}-byte message body`);
    }
  }
  fb.vector(batch, 4, 8);
  const length = fb.field(batch, 0);
  const rows = length === undefined ? 0 : fb.i64(length);
  if (rows < 0) throw fb.fail(`negative row count ${rows}`);
  return { rows, compressed: fb.field(batch, 3) !== undefined };
}

export type MessageInfo =
  | { readonly kind: 'schema'; readonly bodyLength: number; readonly byteOrder: ByteOrder; readonly schema: ArrowSchema }
  | { readonly kind: 'record batch'; readonly bodyLength: number; readonly batch: RecordBatchInfo }
  | { readonly kind: 'dictionary batch'; readonly bodyLength: number };

/** Checks a Message flatbuffer (without its length prefix) and reads what we need of it. */
export function checkMessage(file: string, metadata: Uint8Array): MessageInfo {
  return withFlatbuffer(file, 'message metadata', metadata, (fb) => {
    const message = fb.table(0);
    keyValues(fb, message, 4);
    const bodyAt = fb.field(message, 3);
    const bodyLength = bodyAt === undefined ? 0 : fb.i64(bodyAt);
    if (bodyLength < 0) throw fb.fail(`negative body length ${bodyLength}`);
    const typeAt = fb.field(message, 1);
    const type = typeAt === undefined ? 0 : fb.u8(typeAt);
    const header = fb.child(message, 2);
    // A message must carry one of the headers a record batch stream holds;
    // skipping another would leave apache-arrow, which reads on, out of step.
    if (header === undefined || type === HEADER_NONE) throw fb.fail('a message with no header');
    if (type === HEADER_SCHEMA) return { kind: 'schema', bodyLength, ...readSchema(fb, header, fb.scalar(message, 0, fb.i16, 0)) };
    if (type === HEADER_RECORD_BATCH) return { kind: 'record batch', bodyLength, batch: checkRecordBatch(fb, header, bodyLength) };
    if (type === HEADER_DICTIONARY_BATCH) {
      const data = fb.child(header, 1);
      if (data !== undefined) checkRecordBatch(fb, data, bodyLength);
      return { kind: 'dictionary batch', bodyLength };
    }
    throw fb.fail(`a message of header type ${type} (Tensor or SparseTensor, or unknown) in a record batch stream`);
  });
}

/** Where a message sits in an IPC file (File.fbs, struct Block). */
export interface Block {
  readonly offset: number;
  readonly metadataLength: number;
  readonly bodyLength: number;
}

interface FooterInfo {
  readonly byteOrder: ByteOrder;
  readonly schema: ArrowSchema;
  readonly dictionaries: readonly Block[];
  readonly recordBatches: readonly Block[];
}

function readBlocks(fb: Flatbuffer, footer: number, index: number): Block[] {
  const { start, length } = fb.vector(footer, index, BLOCK_BYTES);
  return Array.from({ length }, (_, i) => {
    const at = start + i * BLOCK_BYTES;
    return { offset: fb.i64(at), metadataLength: fb.i32(at + 8), bodyLength: fb.i64(at + 16) };
  });
}

/** Checks an IPC file's Footer flatbuffer and reads its schema, byte order and blocks. */
export function checkFooter(file: string, footer: Uint8Array): FooterInfo {
  return withFlatbuffer(file, 'footer', footer, (fb) => {
    const root = fb.table(0);
    const schema = fb.child(root, 1);
    if (schema === undefined) throw fb.fail('no schema');
    keyValues(fb, root, 4);
    return { ...readSchema(fb, schema, fb.scalar(root, 0, fb.i16, 0)), dictionaries: readBlocks(fb, root, 2), recordBatches: readBlocks(fb, root, 3) };
  });
}

export const refuseCompressed = (file: string, info: MessageInfo): void => {
  if (info.kind === 'record batch' && info.batch.compressed) {
    throw new SmoothL1Error('unsupported', file, 'compressed Arrow IPC record batches are unsupported; write them uncompressed');
  }
};
