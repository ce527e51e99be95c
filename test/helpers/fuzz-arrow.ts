/**
 * Arrow IPC for the fuzz suite: valid files and streams written with
 * apache-arrow (two tensor columns `x` and `y` of one shape, perhaps after
 * columns of other types), a map of where their length fields and
 * flatbuffers lie (for targeted mutations), and a reference reader. The
 * reference decodes with @uwdata/flechette, an implementation independent of
 * both src/ and apache-arrow, and takes the values out of its batches
 * itself, honouring the schema's endianness as the format says.
 * apache-arrow's own tableFromIPC is a second opinion, consulted only when
 * flechette refuses or disagrees.
 */
import {
  Bool,
  Dictionary,
  Field,
  FixedSizeList,
  Float64,
  Int32,
  List,
  makeData,
  RecordBatch,
  Schema,
  Struct,
  Table,
  tableFromIPC as arrowTableFromIPC,
  tableToIPC,
  Utf8,
  Vector,
  vectorFromArray,
  type Data,
  type DataType,
} from 'apache-arrow';
import { tableFromIPC as flechetteTableFromIPC } from '@uwdata/flechette';
import type { DType } from '../../src/tensor/tensor.js';
import { elementAt, elementBytes, ITEM_BYTES, prng } from './fuzz-bytes.js';
import { ARROW_TYPE } from './npy-to-arrow.js';


export type ExtraKind = 'utf8' | 'int32' | 'dict' | 'list' | 'struct';

/** A valid Arrow file or stream, described so that fast-check can shrink it. */
export interface ArrowBase {
  readonly format: 'file' | 'stream';
  readonly x: DType;
  readonly y: DType;
  /** The shape of one row: [] for a primitive column, [k] or [k1, k2] for fixed-size lists. */
  readonly rowShape: readonly number[];
  /** Rank-2 rows: true for arrow.fixed_shape_tensor over FixedSizeList[k1*k2], false for nested lists. */
  readonly tensor: boolean;
  readonly rows: number;
  readonly batchRows: number;
  /** Columns of other types before x and y (their nodes and buffers come first in each batch). */
  readonly extra: readonly ExtraKind[];
  /** Rows of x that are null (given as indexes, taken modulo rows). */
  readonly nulls: readonly number[];
  readonly seed: number;
}

function packBits(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(Math.ceil(bytes.length / 8));
  bytes.forEach((b, i) => {
    if (b !== 0) out[i >> 3]! |= 1 << (i & 7);
  });
  return out;
}

function leafData(dtype: DType, count: number, seed: number): Data {
  const bytes = elementBytes(dtype, count, seed);
  const data = dtype === 'bool' ? packBits(bytes) : bytes;
  const props = { type: ARROW_TYPE[dtype](), length: count, data: new Uint8Array(data) };
  return makeData(props as Parameters<typeof makeData>[0]);
}

/** A tensor column of `rows` rows: its field and its data for all rows. */
function tensorColumn(name: string, dtype: DType, base: ArrowBase, seed: number, nulls: readonly number[]): { field: Field; data: Data } {
  const width = base.rowShape.reduce((n, d) => n * d, 1);
  const leaf = leafData(dtype, base.rows * width, seed);
  const nullBitmap = (length: number): { nullBitmap?: Uint8Array; nullCount?: number } => {
    if (nulls.length === 0 || length === 0) return {};
    const bits = new Uint8Array(Math.ceil(length / 8)).fill(0xff);
    const rows = new Set(nulls.map((r) => r % length));
    for (const r of rows) bits[r >> 3]! &= ~(1 << (r & 7));
    return { nullBitmap: bits, nullCount: rows.size };
  };
  const item = (type: DataType): Field => new Field('item', type, false);
  if (base.rowShape.length === 0) {
    const data = makeData({ ...({ type: leaf.type, length: base.rows, data: leaf.values } as object), ...nullBitmap(base.rows) } as Parameters<typeof makeData>[0]);
    return { field: new Field(name, leaf.type, true), data };
  }
  const flat = base.rowShape.length === 1 || base.tensor;
  if (flat) {
    const type = new FixedSizeList(width, item(leaf.type));
    const metadata = base.tensor
      ? new Map([
          ['ARROW:extension:name', 'arrow.fixed_shape_tensor'],
          ['ARROW:extension:metadata', JSON.stringify({ shape: base.rowShape })],
        ])
      : new Map<string, string>();
    return { field: new Field(name, type, true, metadata), data: makeData({ type, length: base.rows, child: leaf, ...nullBitmap(base.rows) }) };
  }
  const [k1 = 1, k2 = 1] = base.rowShape;
  const innerType = new FixedSizeList(k2, item(leaf.type));
  const inner = makeData({ type: innerType, length: base.rows * k1, child: leaf });
  const type = new FixedSizeList(k1, item(innerType));
  return { field: new Field(name, type, true), data: makeData({ type, length: base.rows, child: inner, ...nullBitmap(base.rows) }) };
}

function extraColumn(kind: ExtraKind, index: number, rows: number, seed: number): { field: Field; vector: Vector } {
  const next = prng(seed + index);
  const name = `${kind}${index}`;
  const pick = (): number => next() % 100;
  let vector: Vector;
  switch (kind) {
    case 'utf8':
      vector = vectorFromArray(Array.from({ length: rows }, () => (pick() < 20 ? null : 'ab'.repeat(pick() % 4))), new Utf8());
      break;
    case 'int32':
      vector = vectorFromArray(Array.from({ length: rows }, () => (pick() < 20 ? null : pick())), new Int32());
      break;
    case 'dict':
      vector = vectorFromArray(Array.from({ length: rows }, () => ['p', 'q', 'r'][pick() % 3]!), new Dictionary(new Utf8(), new Int32(), index));
      break;
    case 'list':
      vector = vectorFromArray(
        Array.from({ length: rows }, () => Array.from({ length: pick() % 3 }, () => pick())),
        new List(new Field('item', new Int32(), true)),
      );
      break;
    case 'struct':
      vector = vectorFromArray(
        Array.from({ length: rows }, () => ({ a: pick() / 7, b: pick() < 50 })),
        new Struct([new Field('a', new Float64(), true), new Field('b', new Bool(), true)]),
      );
      break;
  }
  return { field: new Field(name, vector.type, true), vector };
}

/** The base's bytes, as apache-arrow writes them (format V5, 8-byte aligned). */
export function arrowBytes(base: ArrowBase): Uint8Array {
  const extras = base.extra.map((kind, i) => extraColumn(kind, i, base.rows, base.seed));
  const x = tensorColumn('x', base.x, base, base.seed, base.nulls);
  const y = tensorColumn('y', base.y, base, base.seed ^ 0x5bd1e995, []);
  const fields = [...extras.map((e) => e.field), x.field, y.field];
  const vectors = [...extras.map((e) => e.vector), new Vector([x.data]), new Vector([y.data])];
  const schema = new Schema(fields);
  const batches: RecordBatch[] = [];
  const step = Math.max(1, base.batchRows);
  for (let r = 0; r === 0 || r < base.rows; r += step) {
    const n = Math.min(step, base.rows - r);
    const children = vectors.map((v) => v.slice(r, r + n).data[0]!);
    batches.push(new RecordBatch(schema, makeData({ type: new Struct(schema.fields), length: n, children })));
  }
  return tableToIPC(new Table(schema, batches), base.format);
}

// ---------------------------------------------------------------------------
// Where things are in a valid file: for mutations that aim.

export interface ArrowMap {
  /** Positions of 32-bit message length fields (after a continuation marker), and of the footer length. */
  readonly lengthFields: readonly number[];
  /** Positions of continuation markers. */
  readonly markers: readonly number[];
  /** [start, end) of each flatbuffer: message metadata and the footer. */
  readonly flatbuffers: readonly (readonly [number, number])[];
  /** [start, end) of each message body. */
  readonly bodies: readonly (readonly [number, number])[];
}

/** Message.bodyLength (field 3 of the root table), read from a valid flatbuffer. */
function bodyLength(bytes: Uint8Array, start: number): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const root = start + view.getUint32(start, true);
  const vtable = root - view.getInt32(root, true);
  if (view.getInt16(vtable, true) <= 10) return 0;
  const offset = view.getInt16(vtable + 10, true);
  return offset === 0 ? 0 : Number(view.getBigInt64(root + offset, true));
}

/** Walks a valid file's or stream's messages. */
export function arrowMap(bytes: Uint8Array): ArrowMap {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const isFile = bytes.length >= 6 && Buffer.from(bytes.subarray(0, 6)).toString('latin1') === 'ARROW1';
  const end = isFile ? bytes.length - 10 - view.getInt32(bytes.length - 10, true) : bytes.length;
  const lengthFields: number[] = [];
  const markers: number[] = [];
  const flatbuffers: [number, number][] = [];
  const bodies: [number, number][] = [];
  for (let at = isFile ? 8 : 0; at + 8 <= end; ) {
    markers.push(at);
    lengthFields.push(at + 4);
    const length = view.getInt32(at + 4, true);
    if (length === 0) break;
    const start = at + 8;
    flatbuffers.push([start, start + length]);
    const body = bodyLength(bytes, start);
    bodies.push([start + length, start + length + body]);
    at = start + length + body;
  }
  if (isFile) {
    lengthFields.push(bytes.length - 10);
    flatbuffers.push([end, bytes.length - 10]);
  }
  return { lengthFields, markers, flatbuffers, bodies };
}

// ---------------------------------------------------------------------------
// The reference reader.

export interface ArrowRef {
  readonly dtype: DType;
  readonly shape: readonly number[];
  /** Elements in row-major order, as float64. */
  readonly values: Float64Array;
  /** Whether any element of the column is missing: null itself, or under a null list. */
  readonly hasNull: boolean;
}

export type ArrowVerdict = { readonly ok: true; readonly ref: ArrowRef } | { readonly ok: false; readonly why: string };

const INT_DTYPES: Readonly<Record<number, readonly [DType, DType]>> = {
  8: ['uint8', 'int8'],
  16: ['uint16', 'int16'],
  32: ['uint32', 'int32'],
  64: ['uint64', 'int64'],
};
const FLOAT_DTYPES: readonly DType[] = ['float16', 'float32', 'float64'];

/** A field's type as both libraries describe it (Schema.fbs type ids). */
interface TypeLike {
  readonly typeId: number;
  readonly bitWidth?: number | undefined;
  readonly signed?: boolean | undefined;
  readonly precision?: number | undefined;
  readonly listSize?: number | undefined;
  readonly stride?: number | undefined;
  readonly children?: readonly { readonly type: TypeLike }[] | undefined;
}

/** A batch (flechette) or Data (apache-arrow), as far as the values walk needs one. */
interface BatchLike {
  readonly length: number;
  readonly nullCount: number;
  readonly offset: number;
  readonly validity: Uint8Array | undefined;
  readonly values: ArrayBufferView | undefined;
  readonly child: BatchLike | undefined;
}

class Refuse extends Error {}

function leafOf(type: TypeLike): { dtype: DType; sizes: number[] } {
  const sizes: number[] = [];
  let t = type;
  while (t.typeId === 16) {
    const size = t.listSize ?? t.stride;
    const child = t.children?.[0]?.type;
    if (size === undefined || child === undefined) throw new Refuse('fixed-size list without size or child');
    sizes.push(size);
    t = child;
  }
  let dtype: DType | undefined;
  if (t.typeId === 6) dtype = 'bool';
  else if (t.typeId === 2) dtype = INT_DTYPES[t.bitWidth ?? 0]?.[t.signed === true ? 1 : 0];
  else if (t.typeId === 3) dtype = FLOAT_DTYPES[t.precision ?? -1];
  if (dtype === undefined) throw new Refuse(`type ${t.typeId}`);
  return { dtype, sizes };
}

function rowShapeOf(metadata: ReadonlyMap<string, string> | null | undefined, sizes: readonly number[]): number[] {
  const name = metadata?.get('ARROW:extension:name');
  if (name === undefined) return [...sizes];
  if (name !== 'arrow.fixed_shape_tensor') throw new Refuse(`extension ${name}`);
  let meta: unknown;
  try {
    meta = JSON.parse(metadata?.get('ARROW:extension:metadata') ?? '');
  } catch {
    throw new Refuse('tensor metadata not JSON');
  }
  const shape = (meta as { shape?: unknown } | null)?.shape;
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) throw new Refuse('tensor shape');
  const dims = shape as number[];
  const permutation = (meta as { permutation?: unknown }).permutation;
  if (permutation !== undefined && permutation !== null && !(Array.isArray(permutation) && permutation.length === dims.length && permutation.every((p, i) => p === i))) {
    throw new Refuse('tensor permutation');
  }
  if (sizes.length !== 1 || sizes[0] !== dims.reduce((n, d) => n * d, 1)) throw new Refuse('tensor storage');
  return dims;
}

const bit = (bitmap: Uint8Array, i: number): boolean => (((bitmap[i >> 3] ?? 0) >> (i & 7)) & 1) === 1;

/** The column's elements, row-major, from its batches; refuses a batch shorter than it claims. */
function columnValues(batches: readonly BatchLike[], dtype: DType, sizes: readonly number[], bigEndian: boolean): { values: Float64Array; rows: number; hasNull: boolean } {
  const out: number[] = [];
  let rows = 0;
  let hasNull = false;
  const size = ITEM_BYTES[dtype];
  for (const batch of batches) {
    let level: BatchLike = batch;
    let items = batch.length;
    for (let depth = 0; ; depth++) {
      if (level.length < items) throw new Refuse('list child shorter than its parent needs');
      // A null hides elements only where there are some below it: a null row of FixedSizeList[0] misses none.
      const below = sizes.slice(depth).reduce((n, d) => n * d, 1);
      if (below > 0 && level.nullCount > 0 && level.validity !== undefined && level.validity.length > 0) {
        for (let i = 0; i < items; i++) if (!bit(level.validity, level.offset + i)) hasNull = true;
      }
      const listSize = sizes[depth];
      if (listSize === undefined) break;
      if (level.child === undefined) throw new Refuse('list without child');
      level = level.child;
      items *= listSize;
    }
    const values = level.values;
    if (values === undefined) throw new Refuse('no values');
    const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
    if (dtype === 'bool') {
      if (bytes.length * 8 < level.offset + items) throw new Refuse('bool values shorter than the batch');
      for (let i = 0; i < items; i++) out.push(bit(bytes, level.offset + i) ? 1 : 0);
    } else {
      if (bytes.length < (level.offset + items) * size) throw new Refuse('values shorter than the batch');
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      for (let i = 0; i < items; i++) out.push(elementAt(view, (level.offset + i) * size, dtype, !bigEndian));
    }
    rows += batch.length;
  }
  return { values: Float64Array.from(out), rows, hasNull };
}

interface FlechetteBatch {
  readonly length: number;
  readonly nullCount: number;
  readonly validity?: Uint8Array;
  readonly values?: ArrayBufferView;
  readonly children?: readonly FlechetteBatch[];
}

const fromFlechette = (b: FlechetteBatch): BatchLike => ({
  length: b.length,
  nullCount: b.nullCount,
  offset: 0,
  validity: b.validity,
  values: b.values,
  child: b.children?.[0] === undefined ? undefined : fromFlechette(b.children[0]),
});

const fromArrowJs = (d: Data): BatchLike => ({
  length: d.length,
  nullCount: d.nullCount,
  offset: d.offset,
  validity: d.nullBitmap ?? undefined,
  values: ArrayBuffer.isView(d.values) ? d.values : undefined,
  child: d.children[0] === undefined ? undefined : fromArrowJs(d.children[0]),
});

/** A private, 8-byte aligned copy: readers make typed arrays over it. */
function alignedCopy(bytes: Uint8Array): Uint8Array {
  const copy = new Uint8Array(new ArrayBuffer(bytes.length + 8), 0, bytes.length);
  copy.set(bytes);
  return copy;
}

/** What @uwdata/flechette reads in column `name` of `bytes`. Never throws. */
export function readArrowRef(bytes: Uint8Array, name: string): ArrowVerdict {
  try {
    const table = flechetteTableFromIPC(alignedCopy(bytes), { useBigInt: true });
    const schema = table.schema as unknown as { endianness: number; fields: { name: string; type: TypeLike & { typeId: number }; metadata?: Map<string, string> | null }[] };
    const fields = schema.fields.filter((f) => f.name === name);
    if (fields.length !== 1) throw new Refuse(`${fields.length} columns named ${name}`);
    const field = fields[0]!;
    const { dtype, sizes } = leafOf(field.type);
    const rowShape = rowShapeOf(field.metadata, sizes);
    const column = table.getChild(name) as unknown as { data: FlechetteBatch[] } | null;
    if (column === null) throw new Refuse('no column');
    const { values, rows, hasNull } = columnValues(column.data.map(fromFlechette), dtype, sizes, schema.endianness === 1);
    return { ok: true, ref: { dtype, shape: [rows, ...rowShape], values, hasNull } };
  } catch (err) {
    return { ok: false, why: `flechette: ${err instanceof Error ? err.message : String(err)}` };
  }
}

/** The same, read by apache-arrow (which ignores the schema's endianness; so does this). Never throws. */
export function readArrowRefArrowJs(bytes: Uint8Array, name: string): ArrowVerdict {
  try {
    const table = arrowTableFromIPC(alignedCopy(bytes));
    const matches = table.schema.fields.filter((f) => f.name === name);
    if (matches.length !== 1) throw new Refuse(`${matches.length} columns named ${name}`);
    const field = matches[0]!;
    const toLike = (t: DataType): TypeLike => ({
      typeId: t.typeId === -1 ? -1 : (t as unknown as { typeId: number }).typeId,
      bitWidth: (t as unknown as { bitWidth?: number }).bitWidth,
      signed: (t as unknown as { isSigned?: boolean }).isSigned,
      precision: (t as unknown as { precision?: number }).precision,
      listSize: (t as unknown as { listSize?: number }).listSize,
      children: (t.children ?? []).map((c: Field) => ({ type: toLike(c.type) })),
    });
    const type = toLike(field.type);
    // apache-arrow's type ids: Int 2, Float 3, Bool 6, FixedSizeList 16, as in Schema.fbs.
    const { dtype, sizes } = leafOf(type);
    const rowShape = rowShapeOf(field.metadata, sizes);
    const vector = table.getChild(name);
    if (vector === null) throw new Refuse('no column');
    const { values, rows, hasNull } = columnValues(vector.data.map(fromArrowJs), dtype, sizes, false);
    return { ok: true, ref: { dtype, shape: [rows, ...rowShape], values, hasNull } };
  } catch (err) {
    return { ok: false, why: `apache-arrow: ${err instanceof Error ? err.message : String(err)}` };
  }
}

// ---------------------------------------------------------------------------
// A reader written here from the format's specification (Message.fbs,
// Schema.fbs, File.fbs, Columnar.html): it reads only what the chosen column
// needs, so that corrupt metadata elsewhere (which the two libraries choke
// on, and smoothl1 need not look at) does not leave a run unjudged. It takes
// flatbuffers as the flatbuffers libraries read them, but refuses a vtable
// the flatbuffers verifier would refuse.

/** Bounds-checked little-endian reads of one flatbuffer. */
class Fb {
  readonly view: DataView;
  degenerate = false;

  constructor(readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  #at(at: number, n: number): number {
    if (!Number.isSafeInteger(at) || at < 0 || at + n > this.bytes.length) throw new Refuse(`offset ${at} out of range`);
    return at;
  }

  u8 = (at: number): number => this.view.getUint8(this.#at(at, 1));
  u16 = (at: number): number => this.view.getUint16(this.#at(at, 2), true);
  i16 = (at: number): number => this.view.getInt16(this.#at(at, 2), true);
  i32 = (at: number): number => this.view.getInt32(this.#at(at, 4), true);
  u32 = (at: number): number => this.view.getUint32(this.#at(at, 4), true);
  i64 = (at: number): bigint => this.view.getBigInt64(this.#at(at, 8), true);

  /** The table an offset at `at` points to (its vtable is looked at only when a field is read). */
  table(at: number): number {
    return at + this.u32(at);
  }

  /**
   * Where field `i` of table `t` is, if present. The vtable's size is read
   * as a signed 16-bit number, as the JavaScript flatbuffers library reads
   * it (a size of 0xffff hides every field); its entries unsigned.
   */
  field(t: number, i: number): number | undefined {
    const vtable = t - this.i32(t);
    const size = this.i16(vtable);
    // A vtable the flatbuffers verifier would refuse (size under 4, or odd): noted.
    if (size < 4 || size % 2 !== 0) this.degenerate = true;
    const slot = 4 + 2 * i;
    if (slot + 2 > size) return undefined;
    const off = this.u16(vtable + slot);
    return off === 0 ? undefined : t + off;
  }

  child(t: number, i: number): number | undefined {
    const at = this.field(t, i);
    return at === undefined ? undefined : this.table(at);
  }

  vector(t: number, i: number, stride: number): { start: number; length: number } {
    const at = this.field(t, i);
    if (at === undefined) return { start: 0, length: 0 };
    const v = at + this.u32(at);
    const length = this.u32(v);
    this.#at(v + 4, length * stride);
    return { start: v + 4, length };
  }

  tables(t: number, i: number): number[] {
    const { start, length } = this.vector(t, i, 4);
    return Array.from({ length }, (_, k) => this.table(start + 4 * k));
  }

  string(t: number, i: number): string {
    const at = this.field(t, i);
    if (at === undefined) return '';
    const s = at + this.u32(at);
    const length = this.u32(s);
    this.#at(s + 4, length);
    return Buffer.from(this.bytes.subarray(s + 4, s + 4 + length)).toString('utf8');
  }

  scalar<T>(t: number, i: number, read: (at: number) => T, otherwise: T): T {
    const at = this.field(t, i);
    return at === undefined ? otherwise : read(at);
  }
}

interface OwnField {
  readonly name: string;
  readonly typeId: number;
  readonly type: number | undefined;
  readonly fb: Fb;
  readonly dictionary: boolean;
  readonly children: readonly OwnField[];
  readonly metadata: Map<string, string>;
}

function ownField(fb: Fb, t: number, depth: number): OwnField {
  if (depth > 32) throw new Refuse('fields nested too deep');
  const metadata = new Map<string, string>();
  for (const kv of fb.tables(t, 6)) metadata.set(fb.string(kv, 0), fb.string(kv, 1));
  return {
    name: fb.string(t, 0),
    typeId: fb.scalar(t, 2, fb.u8, 0),
    type: fb.child(t, 3),
    fb,
    dictionary: fb.field(t, 4) !== undefined,
    children: fb.tables(t, 5).map((c) => ownField(fb, c, depth + 1)),
    metadata,
  };
}

function ownTypeLike(f: OwnField): TypeLike {
  const { fb, type } = f;
  const param = <T>(i: number, read: (at: number) => T, otherwise: T): T => (type === undefined ? otherwise : fb.scalar(type, i, read, otherwise));
  switch (f.typeId) {
    case 2:
      return { typeId: 2, bitWidth: param(0, fb.i32, 0), signed: param(1, fb.u8, 0) !== 0 };
    case 3:
      return { typeId: 3, precision: param(0, fb.i16, 0) };
    case 16:
      return { typeId: 16, listSize: param(0, fb.i32, 0), children: f.children.map((c) => ({ type: ownTypeLike(c) })) };
    default:
      return { typeId: f.dictionary ? -1 : f.typeId };
  }
}

/** Field nodes and buffers a field takes in a batch (Columnar.html, "Buffer Listing for Each Layout"), for the types written here. */
function ownSlots(f: OwnField): { nodes: number; buffers: number } {
  if (f.dictionary) return { nodes: 1, buffers: 2 };
  const sum = (own: number, children: readonly OwnField[]): { nodes: number; buffers: number } =>
    children.map(ownSlots).reduce((a, c) => ({ nodes: a.nodes + c.nodes, buffers: a.buffers + c.buffers }), { nodes: 1, buffers: own });
  switch (f.typeId) {
    case 2:
    case 3:
    case 6:
      return { nodes: 1, buffers: 2 };
    case 5:
      return { nodes: 1, buffers: 3 };
    case 12:
      return sum(2, f.children.slice(0, 1));
    case 13:
      return sum(1, f.children);
    case 16:
      return sum(1, f.children.slice(0, 1));
    default:
      throw new Refuse(`no buffer layout for type ${f.typeId} here`);
  }
}

interface OwnBatch {
  readonly fb: Fb;
  readonly table: number;
  readonly body: Uint8Array;
}

/** One message at `at`: its metadata flatbuffer, header type and table, and body. */
function ownMessage(bytes: Uint8Array, at: number): { fb: Fb; type: number; header: number | undefined; end: number } | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (at + 4 > bytes.length) return undefined;
  let length = view.getInt32(at, true);
  let prefix = 4;
  if (length === -1) {
    if (at + 8 > bytes.length) throw new Refuse('ends in a length');
    length = view.getInt32(at + 4, true);
    prefix = 8;
  }
  if (length === 0) return undefined;
  if (length < 0 || at + prefix + length > bytes.length) throw new Refuse(`bad metadata length ${length}`);
  const fb = new Fb(bytes.subarray(at + prefix, at + prefix + length));
  const root = fb.table(0);
  const bodyLength = fb.scalar(root, 3, fb.i64, 0n);
  const start = at + prefix + length;
  if (bodyLength < 0n || BigInt(start) + bodyLength > BigInt(bytes.length)) throw new Refuse('body past the end');
  return { fb, type: fb.scalar(root, 1, fb.u8, 0), header: fb.child(root, 2), end: start + Number(bodyLength) };
}

/**
 * A Message's MetadataVersion (V4 is 3): before V4, a Buffer struct had a
 * page field, and apache-arrow and flechette honour that; -1 when the field
 * points outside the flatbuffer (smoothl1 need not read it).
 */
function messageVersion(fb: Fb): number {
  try {
    return fb.scalar(fb.table(0), 0, fb.i16, 0);
  } catch (err) {
    if (err instanceof Refuse) return -1;
    throw err;
  }
}

/** Column `name` of an IPC file or stream, read from the specification alone. Never throws. */
export function readArrowOwn(bytes: Uint8Array, name: string): ArrowVerdict & { notes?: string[] } {
  const notes: string[] = [];
  const seen: Fb[] = [];
  try {
    let schemaFb: Fb;
    let schemaTable: number;
    const batches: OwnBatch[] = [];
    const isFile = bytes.length >= 6 && Buffer.from(bytes.subarray(0, 6)).toString('latin1') === 'ARROW1';
    const bodyOf = (m: { fb: Fb; end: number }): Uint8Array => bytes.subarray(m.end - Number(m.fb.scalar(m.fb.table(0), 3, m.fb.i64, 0n)), m.end);
    if (isFile) {
      if (bytes.length < 18 || Buffer.from(bytes.subarray(bytes.length - 6)).toString('latin1') !== 'ARROW1') throw new Refuse('no trailing magic');
      const footerLength = new DataView(bytes.buffer, bytes.byteOffset).getInt32(bytes.length - 10, true);
      if (footerLength <= 0 || footerLength > bytes.length - 18) throw new Refuse('bad footer length');
      const fb = new Fb(bytes.subarray(bytes.length - 10 - footerLength, bytes.length - 10));
      seen.push(fb);
      const root = fb.table(0);
      const schema = fb.child(root, 1);
      if (schema === undefined) throw new Refuse('footer without schema');
      if (fb.scalar(root, 0, fb.i16, 0) < 3) throw new Refuse('metadata version before V4');
      [schemaFb, schemaTable] = [fb, schema];
      const blocks = fb.vector(root, 3, 24);
      for (let k = 0; k < blocks.length; k++) {
        const offset = fb.i64(blocks.start + 24 * k);
        if (offset < 0n || offset > BigInt(bytes.length)) throw new Refuse('block offset out of range');
        const m = ownMessage(bytes, Number(offset));
        if (m === undefined || m.type !== 3 || m.header === undefined) throw new Refuse('block is not a record batch');
        seen.push(m.fb);
        if (messageVersion(m.fb) < 3) notes.push(messageVersion(m.fb) < 0 ? 'unreadable-message-version' : 'pre-v4-message');
        batches.push({ fb: m.fb, table: m.header, body: bodyOf(m) });
      }
    } else {
      const first = ownMessage(bytes, 0);
      if (first === undefined || first.type !== 1 || first.header === undefined) throw new Refuse('no schema first');
      seen.push(first.fb);
      if (first.fb.scalar(first.fb.table(0), 0, first.fb.i16, 0) < 3) throw new Refuse('metadata version before V4');
      [schemaFb, schemaTable] = [first.fb, first.header];
      for (let at = first.end; ; ) {
        const m = ownMessage(bytes, at);
        if (m === undefined) break;
        seen.push(m.fb);
        if (m.type === 1) throw new Refuse('second schema');
        if (m.type === 3) {
          if (m.header === undefined) throw new Refuse('record batch without header');
          if (messageVersion(m.fb) < 3) notes.push(messageVersion(m.fb) < 0 ? 'unreadable-message-version' : 'pre-v4-message');
          batches.push({ fb: m.fb, table: m.header, body: bodyOf(m) });
        }
        at = m.end;
      }
    }
    const fields = schemaFb.tables(schemaTable, 1).map((t) => ownField(schemaFb, t, 0));
    const bigEndian = schemaFb.scalar(schemaTable, 0, schemaFb.i16, 0) === 1;
    const index = fields.findIndex((f) => f.name === name);
    if (index < 0 || fields.filter((f) => f.name === name).length > 1) throw new Refuse(`no single column ${name}`);
    const field = fields[index]!;
    if (field.dictionary) throw new Refuse('dictionary column');
    const { dtype, sizes } = leafOf(ownTypeLike(field));
    const rowShape = rowShapeOf(field.metadata, sizes);
    let node = 0;
    let buffer = 0;
    for (const f of fields.slice(0, index)) {
      const s = ownSlots(f);
      node += s.nodes;
      buffer += s.buffers;
    }
    const width = sizes.reduce((n, d) => n * d, 1);
    const size = ITEM_BYTES[dtype];
    const out: number[] = [];
    let rows = 0;
    let hasNull = false;
    for (const b of batches) {
      const { fb, table, body } = b;
      if (fb.field(table, 3) !== undefined) throw new Refuse('compressed');
      const length = fb.scalar(table, 0, fb.i64, 0n);
      if (length < 0n || length > 1n << 40n) throw new Refuse('bad row count');
      const n = Number(length);
      rows += n;
      if (n * width === 0) continue;
      const nodes = fb.vector(table, 1, 16);
      const buffers = fb.vector(table, 2, 16);
      // A buffer must hold the bytes the column needs, inside the body; what it claims beyond them is not read.
      const region = (k: number, needed: number): { offset: number; length: number } => {
        if (k >= buffers.length) throw new Refuse('too few buffers');
        const offset = fb.i64(buffers.start + 16 * k);
        const len = fb.i64(buffers.start + 16 * k + 8);
        if (len === 0n) return { offset: 0, length: 0 };
        if (len < BigInt(needed)) throw new Refuse('buffer shorter than its items');
        if (offset < 0n || offset + BigInt(needed) > BigInt(body.length)) throw new Refuse('buffer outside the body');
        return { offset: Number(offset), length: Number(len) };
      };
      let items = n;
      for (let level = 0; level <= sizes.length; level++) {
        if (node + level >= nodes.length) throw new Refuse('too few nodes');
        const nodeLength = fb.i64(nodes.start + 16 * (node + level));
        const nullCount = fb.i64(nodes.start + 16 * (node + level) + 8);
        if (nodeLength < BigInt(items)) {
          // Only the leaf's length bounds what is read; a short node above it is noted, not refused.
          if (level === sizes.length) throw new Refuse('node shorter than its rows');
          notes.push('short-list-node');
        }
        const below = sizes.slice(level).reduce((p, d) => p * d, 1);
        if (nullCount > 0n && below > 0) {
          const validity = region(buffer + level, Math.ceil(items / 8));
          if (validity.length > 0) {
            for (let i = 0; i < items; i++) if (((body[validity.offset + (i >> 3)]! >> (i & 7)) & 1) === 0) hasNull = true;
          }
        }
        items *= sizes[level] ?? 1;
      }
      items = n * width;
      const values = region(buffer + sizes.length + 1, dtype === 'bool' ? Math.ceil(items / 8) : items * size);
      if (values.length === 0) throw new Refuse('no values buffer');
      if (dtype === 'bool') {
        for (let i = 0; i < items; i++) out.push((body[values.offset + (i >> 3)]! >> (i & 7)) & 1);
      } else {
        const view = new DataView(body.buffer, body.byteOffset + values.offset, items * size);
        for (let i = 0; i < items; i++) out.push(elementAt(view, i * size, dtype, !bigEndian));
      }
    }
    // A flatbuffer the verifier would refuse holds nothing a reader should trust (a damaged offset read as all defaults).
    if (seen.some((f) => f.degenerate)) throw new Refuse('a vtable the flatbuffers verifier refuses');
    return { ok: true, ref: { dtype, shape: [rows, ...rowShape], values: Float64Array.from(out), hasNull }, notes };
  } catch (err) {
    if (err instanceof Refuse || err instanceof RangeError) return { ok: false, why: `own reader: ${err.message}` };
    throw err;
  }
}

