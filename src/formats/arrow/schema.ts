/*
 * An Arrow schema as smoothl1 needs it: field names, types, children and
 * custom metadata, decoded from the schema flatbuffer by our own walker
 * (metadata.ts). Knowing the schema without apache-arrow lets a file
 * whose column can be read as byte ranges open without loading that
 * library (a large share of a small run's start-up); apache-arrow is loaded only to decode
 * record batches when the column cannot be read that way.
 */

/** The `Type` union of Schema.fbs, by its member's number there. */
export const TypeId = {
  Null: 1,
  Int: 2,
  FloatingPoint: 3,
  Binary: 4,
  Utf8: 5,
  Bool: 6,
  Decimal: 7,
  Date: 8,
  Time: 9,
  Timestamp: 10,
  Interval: 11,
  List: 12,
  Struct: 13,
  Union: 14,
  FixedSizeBinary: 15,
  FixedSizeList: 16,
  Map: 17,
  Duration: 18,
  LargeBinary: 19,
  LargeUtf8: 20,
  LargeList: 21,
  RunEndEncoded: 22,
  BinaryView: 23,
  Utf8View: 24,
  ListView: 25,
  LargeListView: 26,
} as const;

/** FloatingPoint's `precision` (Schema.fbs enum Precision). */
export const Precision = { Half: 0, Single: 1, Double: 2 } as const;

/** Union's `mode` (Schema.fbs enum UnionMode). */
export const UnionMode = { Sparse: 0, Dense: 1 } as const;

/** MetadataVersion (Schema.fbs): V4 is format 0.15 to 0.x, V5 is format 1.0 on. */
export const MetadataVersion = { V4: 3, V5: 4 } as const;

/** A field's type: its union member and the parameters smoothl1 looks at. */
export interface ArrowType {
  /** The Schema.fbs union member; a number outside TypeId is a type newer than this reader. */
  readonly id: number;
  /** Int: bit width and signedness. */
  readonly bitWidth?: number;
  readonly signed?: boolean;
  /** FloatingPoint: Precision. */
  readonly precision?: number;
  /** FixedSizeList: values per list. */
  readonly listSize?: number;
  /** Union: UnionMode. */
  readonly unionMode?: number;
}

export interface ArrowField {
  readonly name: string;
  readonly type: ArrowType;
  /** Dictionary-encoded: the indices' Int type (the values are in dictionary batches). */
  readonly dictionaryIndex: ArrowType | undefined;
  readonly children: readonly ArrowField[];
  readonly metadata: ReadonlyMap<string, string>;
}

export interface ArrowSchema {
  readonly fields: readonly ArrowField[];
  /** The MetadataVersion of the message or footer that carried the schema. */
  readonly version: number;
}

const NAMES: Readonly<Record<number, string>> = Object.fromEntries(Object.entries(TypeId).map(([name, id]) => [id, name]));
const FLOAT_NAMES = ['Float16', 'Float32', 'Float64'];

const childTypes = (field: ArrowField): string => field.children.map((c) => fieldTypeName(c)).join(', ');

function typeName(type: ArrowType, field: ArrowField): string {
  switch (type.id) {
    case TypeId.Int:
      return `${type.signed === true ? 'Int' : 'Uint'}${type.bitWidth ?? '?'}`;
    case TypeId.FloatingPoint:
      return FLOAT_NAMES[type.precision ?? -1] ?? 'Float';
    case TypeId.FixedSizeList:
      return `FixedSizeList[${type.listSize ?? '?'}]<${childTypes(field)}>`;
    case TypeId.List:
    case TypeId.LargeList:
    case TypeId.ListView:
    case TypeId.LargeListView:
      return `${NAMES[type.id]}<${childTypes(field)}>`;
    case TypeId.Struct:
      return `Struct<{${field.children.map((c) => `${c.name}:${fieldTypeName(c)}`).join(', ')}}>`;
    default:
      return NAMES[type.id] ?? `type #${type.id}`;
  }
}

/** How error messages show a field's type, e.g. `FixedSizeList[3]<Float32>` or `Dictionary<Int32, Utf8>`. */
export function fieldTypeName(field: ArrowField): string {
  const value = typeName(field.type, field);
  return field.dictionaryIndex === undefined ? value : `Dictionary<${typeName(field.dictionaryIndex, field)}, ${value}>`;
}
