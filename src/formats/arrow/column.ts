/*
 * Which column of an Arrow schema smoothl1 reads, as what tensor, and where
 * its field nodes and buffers sit in a record batch: all from the schema
 * alone (arrow-schema.ts), before any batch is decoded.
 */
import { EXTENSION_METADATA, EXTENSION_NAME, FIXED_SHAPE_TENSOR } from './magic.js';
import { fieldTypeName, MetadataVersion, Precision, TypeId, UnionMode, type ArrowField, type ArrowSchema, type ArrowType } from './schema.js';
import { SmoothL1Error } from '../../tensor/errors.js';
import type { DType } from '../../tensor/tensor.js';

export interface ColumnLayout {
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

const list = (names: readonly string[]): string => names.map((n) => `'${n}'`).join(', ');

const noSuchColumn = (file: string, name: string, names: readonly string[]): SmoothL1Error =>
  new SmoothL1Error('key', file, `no column '${name}'; the columns are ${list(names)}`);
const ambiguousColumn = (file: string, name: string, count: number): SmoothL1Error =>
  new SmoothL1Error('key', file, `column name '${name}' appears ${count} times; cannot tell which to read`);
const chooseColumn = (file: string, names: readonly string[]): SmoothL1Error =>
  new SmoothL1Error('key', file, `${names.length} columns (${list(names)}); choose one with --input-column or --label-column`);
const unsupportedType = (file: string, field: ArrowField): SmoothL1Error =>
  new SmoothL1Error('unsupported', file, `column '${field.name}' has type ${fieldTypeName(field)}; smoothl1 reads bool, integer and float columns and fixed-size lists of them`);

function pickField(file: string, schema: ArrowSchema, column: string | undefined): number {
  const names = schema.fields.map((f) => f.name);
  if (names.length === 0) throw new SmoothL1Error('key', file, 'the Arrow schema has no columns');
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

const FLOAT_DTYPES: Readonly<Record<number, DType>> = {
  [Precision.Half]: 'float16',
  [Precision.Single]: 'float32',
  [Precision.Double]: 'float64',
};

/** Our dtype for an Arrow primitive type, or undefined if we do not read it. */
function leafDType(type: ArrowType): DType | undefined {
  if (type.id === TypeId.Bool) return 'bool';
  if (type.id === TypeId.FloatingPoint) return FLOAT_DTYPES[type.precision ?? -1];
  if (type.id === TypeId.Int) return INT_DTYPES[type.bitWidth ?? 0]?.[type.signed === true ? 1 : 0];
  return undefined;
}

/** The list sizes of nested fixed-size lists and the primitive type under them. */
function unnest(file: string, column: ArrowField): { dtype: DType; sizes: number[] } {
  const sizes: number[] = [];
  let field = column;
  for (let values = field.children[0]; field.type.id === TypeId.FixedSizeList && field.dictionaryIndex === undefined && values !== undefined; values = field.children[0]) {
    sizes.push(field.type.listSize ?? 0);
    field = values;
  }
  const dtype = field.dictionaryIndex === undefined ? leafDType(field.type) : undefined;
  if (dtype === undefined) throw unsupportedType(file, column);
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
function tensorRowShape(file: string, field: ArrowField, sizes: readonly number[]): number[] {
  const bad = (why: string): SmoothL1Error => new SmoothL1Error('bad-header', file, `column '${field.name}': bad ${FIXED_SHAPE_TENSOR} metadata (${why})`);
  let meta: unknown;
  try {
    meta = JSON.parse(field.metadata.get(EXTENSION_METADATA) ?? '');
  } catch {
    throw bad('not JSON');
  }
  if (meta === null || typeof meta !== 'object' || !('shape' in meta) || !isDims(meta.shape)) throw bad('no "shape" list');
  const { shape } = meta;
  if (sizes.length !== 1 || sizes[0] !== shape.reduce((n, d) => n * d, 1)) {
    throw bad(`storage ${fieldTypeName(field)} does not hold shape [${shape.join(', ')}]`);
  }
  if ('permutation' in meta && meta.permutation !== null) {
    const p = meta.permutation;
    if (!isDims(p) || p.length !== shape.length || p.some((d, i) => d !== i)) {
      throw new SmoothL1Error('unsupported', file, `column '${field.name}': ${FIXED_SHAPE_TENSOR} with permutation ${JSON.stringify(p)} is unsupported; store the elements in row-major order`);
    }
  }
  return shape;
}

/** The column to read (`column`, or the only one) and the tensor it holds; refuses anything else. */
export function columnLayout(file: string, schema: ArrowSchema, column: string | undefined): ColumnLayout {
  const index = pickField(file, schema, column);
  const field = schema.fields[index]!;
  if (field.dictionaryIndex !== undefined) throw unsupportedType(file, field);
  const extension = field.metadata.get(EXTENSION_NAME);
  if (extension !== undefined && extension !== FIXED_SHAPE_TENSOR) {
    throw new SmoothL1Error('unsupported', file, `column '${field.name}' has extension type ${extension}, which smoothl1 does not read`);
  }
  const { dtype, sizes } = unnest(file, field);
  const rowShape = extension === FIXED_SHAPE_TENSOR ? tensorRowShape(file, field, sizes) : sizes;
  return { index, name: field.name, dtype, rowShape, rowWidth: rowShape.reduce((n, d) => n * d, 1), listSizes: sizes };
}

// ---------------------------------------------------------------------------
// Where a column's nodes and buffers are in a record batch.

/** How many field nodes and buffers a field takes in a record batch's lists. */
export interface Slots {
  readonly node: number;
  readonly buffer: number;
}

/**
 * Buffers of a field's own node (Columnar.html, "Buffer Listing for Each
 * Layout"); undefined for layouts we do not count (run-end encoding, views
 * with their variadic buffers, types newer than this reader).
 */
function ownBuffers(field: ArrowField, v5: boolean): number | undefined {
  // Dictionary-encoded: validity and indices; the values are in dictionary batches.
  if (field.dictionaryIndex !== undefined) return 2;
  const { type } = field;
  switch (type.id) {
    case TypeId.Null:
      return 0;
    case TypeId.Struct:
    case TypeId.FixedSizeList:
      return 1;
    case TypeId.List:
    case TypeId.LargeList:
    case TypeId.Map:
      return 2;
    case TypeId.Binary:
    case TypeId.Utf8:
    case TypeId.LargeBinary:
    case TypeId.LargeUtf8:
      return 3;
    case TypeId.Union:
      // Unions lost their validity bitmap in format V5.
      return (type.unionMode === UnionMode.Dense ? 2 : 1) + (v5 ? 0 : 1);
    case TypeId.Bool:
    case TypeId.Int:
    case TypeId.FloatingPoint:
    case TypeId.Decimal:
    case TypeId.Date:
    case TypeId.Time:
    case TypeId.Timestamp:
    case TypeId.Interval:
    case TypeId.Duration:
    case TypeId.FixedSizeBinary:
      return 2;
    default:
      return undefined;
  }
}

/**
 * The children whose nodes and buffers follow a field's in a batch, as
 * apache-arrow's reader takes them: none for a dictionary (its values live
 * in dictionary batches) or a primitive type, the first for lists and maps,
 * all for structs and unions.
 */
function childrenInBatch(field: ArrowField): readonly ArrowField[] {
  if (field.dictionaryIndex !== undefined) return [];
  switch (field.type.id) {
    case TypeId.Struct:
    case TypeId.Union:
      return field.children;
    case TypeId.List:
    case TypeId.LargeList:
    case TypeId.FixedSizeList:
    case TypeId.Map:
      return field.children.slice(0, 1);
    default:
      return [];
  }
}

/** Nodes and buffers of a field and its children. */
function slotsOf(field: ArrowField, v5: boolean): Slots | undefined {
  const own = ownBuffers(field, v5);
  if (own === undefined) return undefined;
  let node = 1;
  let buffer = own;
  for (const child of childrenInBatch(field)) {
    const c = slotsOf(child, v5);
    if (c === undefined) return undefined;
    node += c.node;
    buffer += c.buffer;
  }
  return { node, buffer };
}

/**
 * Where column `index` starts in each batch's node and buffer lists: after
 * all earlier fields. Undefined when an earlier field's layout is one we do
 * not count, or the format predates V4 (whose layouts differ).
 */
export function columnSlots(schema: ArrowSchema, index: number): Slots | undefined {
  if (schema.version < MetadataVersion.V4) return undefined;
  const v5 = schema.version >= MetadataVersion.V5;
  let node = 0;
  let buffer = 0;
  for (const field of schema.fields.slice(0, index)) {
    const s = slotsOf(field, v5);
    if (s === undefined) return undefined;
    node += s.node;
    buffer += s.buffer;
  }
  return { node, buffer };
}

const holdsUnion = (field: ArrowField): boolean => field.type.id === TypeId.Union || childrenInBatch(field).some(holdsUnion);

/**
 * Refuses a column that apache-arrow 21 would misread: in format V4 a union
 * has a validity buffer (V5 dropped it), which its record batch reader never
 * consumes, so every buffer after a V4 union is read one slot early (a bool
 * column came back all false). Called only where record batches go through
 * apache-arrow; the byte-range path counts that buffer itself.
 */
export function refuseMisreadColumn(file: string, schema: ArrowSchema, layout: ColumnLayout): void {
  if (schema.version >= MetadataVersion.V5 || !schema.fields.slice(0, layout.index).some(holdsUnion)) return;
  throw new SmoothL1Error(
    'unsupported',
    file,
    `column '${layout.name}' follows a union in an Arrow format V4 file, which apache-arrow 21 misreads here; write the file in format V5 (Arrow 1.0 or later)`,
  );
}
