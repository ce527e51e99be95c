import { readFileSync } from 'node:fs';
import {
  Bool,
  Field,
  FixedSizeList,
  Float16,
  Float32,
  Float64,
  Int16,
  Int32,
  Int64,
  Int8,
  makeData,
  RecordBatch,
  Schema,
  Struct,
  Table,
  tableToIPC,
  Uint16,
  Uint32,
  Uint64,
  Uint8,
  type Data,
  type DataType,
} from 'apache-arrow';
import { checkDataLength, parseNpyHeader } from '../../src/formats/npy/read.js';
import type { DType } from '../../src/tensor/tensor.js';
import { fortranOffset } from './npy.js';
import { ITEM_BYTES } from './reference.js';

/** apache-arrow's type for each dtype (the fuzz suite's writer uses it too). */
export const ARROW_TYPE: Readonly<Record<DType, () => DataType>> = {
  bool: () => new Bool(),
  int8: () => new Int8(),
  uint8: () => new Uint8(),
  int16: () => new Int16(),
  uint16: () => new Uint16(),
  int32: () => new Int32(),
  uint32: () => new Uint32(),
  int64: () => new Int64(),
  uint64: () => new Uint64(),
  float16: () => new Float16(),
  float32: () => new Float32(),
  float64: () => new Float64(),
};

/** The elements in logical (C) order as little-endian bytes, whatever the file's order and byte order. */
function logicalBytes(bytes: Uint8Array, dtype: DType, shape: readonly number[], fortran: boolean, bigEndian: boolean, dataOffset: number): Uint8Array {
  const size = ITEM_BYTES[dtype];
  const count = shape.reduce((n, d) => n * d, 1);
  const out = new Uint8Array(count * size);
  for (let i = 0; i < count; i++) {
    const from = dataOffset + size * (fortran ? fortranOffset(i, shape) : i);
    for (let k = 0; k < size; k++) out[i * size + k] = bytes[from + (bigEndian ? size - 1 - k : k)]!;
  }
  return out;
}

/** Arrow packs booleans eight to a byte, least significant bit first. */
function packBits(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(Math.ceil(bytes.length / 8));
  bytes.forEach((b, i) => {
    if (b !== 0) out[i >> 3]! |= 1 << (i & 7);
  });
  return out;
}

function valuesData(dtype: DType, le: Uint8Array, count: number): Data {
  const type = ARROW_TYPE[dtype]();
  const data = dtype === 'bool' ? packBits(le) : le;
  // makeData's overloads are per type; the props here are right for any of them.
  const props = { type, length: count, data: new Uint8Array(data) };
  return makeData(props as Parameters<typeof makeData>[0]);
}

/**
 * A small .npy file rewritten as an Arrow IPC file or stream with apache-arrow:
 * one column `x`; rank 1 as a primitive column, rank 2 as FixedSizeList[k],
 * rank 3 and up as FixedSizeList[prod(shape[1:])] with arrow.fixed_shape_tensor
 * metadata. Undefined for a 0-d array, which Arrow cannot hold; throws for a
 * broken .npy.
 */
export function npyToArrow(path: string, format: 'file' | 'stream', batchRows = 7): Uint8Array | undefined {
  const bytes = readFileSync(path);
  const layout = parseNpyHeader(path, bytes);
  checkDataLength(layout, bytes.length);
  const { header, dataOffset } = layout;
  const { shape, dtype } = header;
  if (shape.length === 0) return undefined;
  const rows = shape[0]!;
  const width = shape.slice(1).reduce((n, d) => n * d, 1);
  const le = logicalBytes(bytes, dtype, shape, header.fortranOrder, header.byteOrder === 'big', dataOffset);
  const metadata =
    shape.length > 2
      ? new Map([
          ['ARROW:extension:name', 'arrow.fixed_shape_tensor'],
          ['ARROW:extension:metadata', JSON.stringify({ shape: shape.slice(1) })],
        ])
      : new Map<string, string>();
  const valueType = ARROW_TYPE[dtype]();
  const field = new Field('x', shape.length === 1 ? valueType : new FixedSizeList(width, new Field('item', valueType, false)), false, metadata);
  const schema = new Schema([field]);
  const batches: RecordBatch[] = [];
  // Several small batches, so that batches and chunks do not line up.
  for (let r = 0; r === 0 || r < rows; r += batchRows) {
    const n = Math.min(batchRows, rows - r);
    const values = valuesData(dtype, le.subarray(r * width * ITEM_BYTES[dtype], (r + n) * width * ITEM_BYTES[dtype]), n * width);
    const column = shape.length === 1 ? values : makeData({ type: new FixedSizeList(width, new Field('item', valueType, false)), length: n, child: values });
    batches.push(new RecordBatch(schema, makeData({ type: new Struct(schema.fields), length: n, children: [column] })));
  }
  return tableToIPC(new Table(schema, batches), format);
}
