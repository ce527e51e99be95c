import test, { type ExecutionContext } from 'ava';
import { fc, testProp } from '@fast-check/ava';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import {
  bool,
  columnFromArray,
  CompressionType,
  dictionary,
  Endianness,
  field,
  fixedSizeList,
  float16,
  float32,
  float64,
  int32,
  int8,
  list,
  nullType,
  setCompressionCodec,
  struct,
  Table,
  tableFromArrays,
  tableToIPC,
  utf8,
  Version,
  type Column,
  type DataType as FlechetteType,
  type Field as FlechetteField,
} from '@uwdata/flechette';
import { Float64, Message, Table as ArrowTable, tableToIPC as tableToIPCArrow, Utf8View, vectorFromArray } from 'apache-arrow';
import { SmoothL1Error } from '../../../src/tensor/errors.js';
import { halfTable } from '../../../src/tensor/float16.js';
import { arrowFormat, type ArrowFormat } from '../../../src/formats/arrow/magic.js';
import { openArrowStream, rangeChunkElements } from '../../../src/formats/arrow/read.js';
import type { DType, TensorSource, UnsizedTensorSource } from '../../../src/tensor/tensor.js';
import { openArrowWriter } from '../../../src/formats/arrow/write.js';
import { openAtomicFile } from '../../../src/io/atomic-file.js';
import { chunkBytes } from '../../helpers/arrow-chunks.js';
import { framed, openArrowPath } from '../../helpers/arrow-files.js';
import { tempDir } from '../../helpers/tmp.js';

// Fixtures are written by @uwdata/flechette, an Arrow implementation
// independent of the apache-arrow package the reader uses (issue 4, "Proof").

const FORMATS: readonly ArrowFormat[] = ['file', 'stream'];

interface ColumnSpec {
  readonly name: string;
  readonly column: Column<unknown>;
  readonly metadata?: Map<string, string>;
}

/** IPC bytes of a table whose columns may carry field metadata (flechette's tableFromArrays drops it). */
function ipcOf(columns: readonly ColumnSpec[], format: ArrowFormat): Uint8Array {
  const fields: FlechetteField[] = columns.map((c) => ({ ...field(c.name, c.column.type, true), metadata: c.metadata ?? new Map() }));
  const schema = { version: Version.V5, endianness: Endianness.Little, fields, metadata: null };
  const bytes = tableToIPC(new Table(schema, columns.map((c) => c.column)), { format });
  if (bytes === null) throw new Error('flechette wrote nothing');
  return bytes;
}

function save(t: ExecutionContext, bytes: Uint8Array, name = 'data.arrow'): string {
  const path = join(tempDir(t, 'smoothl1-arrow-'), name);
  writeFileSync(path, bytes);
  return path;
}

/** Every element of `source`, read in chunks of `chunk` elements and joined. */
async function readAll(source: TensorSource, itemSize: number, chunk = 777): Promise<Uint8Array> {
  const total = source.header.shape.reduce((n, d) => n * d, 1);
  const out = new Uint8Array(total * itemSize);
  // Asked for without waiting, as the scheduler does.
  const pending: Promise<void>[] = [];
  for (let start = 0; start < total; start += chunk) {
    const count = Math.min(chunk, total - start);
    pending.push(
      source.chunk(start, count).then((c) => {
        checkLength(c.byteLength, count * itemSize);
        out.set(chunkBytes(c), start * itemSize);
      }),
    );
  }
  await Promise.all(pending);
  return out;
}

function checkLength(found: number, expected: number): void {
  if (found !== expected) throw new Error(`chunk of ${found} bytes, expected ${expected}`);
}

const bytesOf = (a: ArrayBufferView): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

async function expectError(t: ExecutionContext, promise: Promise<unknown>, reason: RegExp, file?: string): Promise<void> {
  const err = await t.throwsAsync(promise, { instanceOf: SmoothL1Error });
  if (err === undefined) return;
  t.regex(err.reason, reason);
  t.notRegex(err.message, /\n/, 'one line');
  if (file !== undefined) t.is(err.file, file);
}

// ---------------------------------------------------------------------------

test('arrowFormat tells files from streams by their first bytes', (t) => {
  const file = ipcOf([{ name: 'x', column: columnFromArray(Float32Array.of(1, 2)) }], 'file');
  const stream = ipcOf([{ name: 'x', column: columnFromArray(Float32Array.of(1, 2)) }], 'stream');
  t.is(arrowFormat(file.subarray(0, 8)), 'file');
  t.is(arrowFormat(stream.subarray(0, 8)), 'stream');
  t.is(arrowFormat(Uint8Array.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0])), undefined, '.npy');
  t.is(arrowFormat(new TextEncoder().encode('hello, world')), undefined);
  t.is(arrowFormat(stream.subarray(0, 4)), undefined, 'too short to tell');
  // A legacy (pre-0.15) stream: the same message without the continuation marker.
  t.is(arrowFormat(stream.subarray(4, 12)), 'stream');
});

const DTYPE_CASES: readonly { dtype: DType; column: () => Column<unknown>; expected: Uint8Array }[] = [
  { dtype: 'int8', column: () => columnFromArray(Int8Array.of(-128, 0, 127)), expected: bytesOf(Int8Array.of(-128, 0, 127)) },
  { dtype: 'uint8', column: () => columnFromArray(Uint8Array.of(0, 1, 255)), expected: bytesOf(Uint8Array.of(0, 1, 255)) },
  { dtype: 'int16', column: () => columnFromArray(Int16Array.of(-32768, 7, 32767)), expected: bytesOf(Int16Array.of(-32768, 7, 32767)) },
  { dtype: 'uint16', column: () => columnFromArray(Uint16Array.of(0, 7, 65535)), expected: bytesOf(Uint16Array.of(0, 7, 65535)) },
  { dtype: 'int32', column: () => columnFromArray(Int32Array.of(-(2 ** 31), 7, 2 ** 31 - 1)), expected: bytesOf(Int32Array.of(-(2 ** 31), 7, 2 ** 31 - 1)) },
  { dtype: 'uint32', column: () => columnFromArray(Uint32Array.of(0, 7, 2 ** 32 - 1)), expected: bytesOf(Uint32Array.of(0, 7, 2 ** 32 - 1)) },
  {
    dtype: 'int64',
    column: () => columnFromArray(BigInt64Array.of(-(2n ** 63n), 7n, 2n ** 63n - 1n)),
    expected: bytesOf(BigInt64Array.of(-(2n ** 63n), 7n, 2n ** 63n - 1n)),
  },
  {
    dtype: 'uint64',
    column: () => columnFromArray(BigUint64Array.of(0n, 7n, 2n ** 64n - 1n)),
    expected: bytesOf(BigUint64Array.of(0n, 7n, 2n ** 64n - 1n)),
  },
  { dtype: 'float32', column: () => columnFromArray(Float32Array.of(-1.5, 0, 3.25)), expected: bytesOf(Float32Array.of(-1.5, 0, 3.25)) },
  { dtype: 'float64', column: () => columnFromArray(Float64Array.of(-1.5, 0, 1e300)), expected: bytesOf(Float64Array.of(-1.5, 0, 1e300)) },
  // Raw binary16 bits: -1.5, 0, 65504 (the largest half).
  { dtype: 'float16', column: () => columnFromArray([-1.5, 0, 65504], float16()), expected: bytesOf(Uint16Array.of(0xbe00, 0, 0x7bff)) },
  // Bit-packed in Arrow, one byte 0/1 per element for us.
  { dtype: 'bool', column: () => columnFromArray([true, false, true], bool()), expected: Uint8Array.of(1, 0, 1) },
];

for (const format of FORMATS) {
  for (const c of DTYPE_CASES) {
    test(`reads a ${c.dtype} column from an IPC ${format}`, async (t) => {
      const source = await openArrowPath(save(t, ipcOf([{ name: 'v', column: c.column() }], format)));
      t.teardown(() => source.close());
      t.is(source.header.dtype, c.dtype);
      t.is(source.header.byteOrder, 'little');
      t.deepEqual(source.header.shape, [3]);
      t.false(source.header.fortranOrder);
      t.deepEqual(await readAll(source, c.expected.length / 3, 2), c.expected);
    });
  }
}

test('float16 bits decode to the values written', async (t) => {
  const values = [0.5, -2, 1024, 6.103515625e-5];
  const source = await openArrowPath(save(t, ipcOf([{ name: 'h', column: columnFromArray(values, float16()) }], 'file')));
  t.teardown(() => source.close());
  const bits = new Uint16Array((await readAll(source, 2)).buffer);
  t.deepEqual([...bits].map((b) => halfTable()[b]), values);
});

for (const format of FORMATS) {
  test(`batches of 1000 rows read in chunks of 777 elements (${format})`, async (t) => {
    const n = 4321;
    const values = Float64Array.from({ length: n }, (_, i) => i * 1.25 - 7);
    const column = columnFromArray(values, float64(), { maxBatchRows: 1000 });
    t.is(column.data.length, 5, 'five record batches');
    const source = await openArrowPath(save(t, ipcOf([{ name: 'x', column }], format)));
    t.teardown(() => source.close());
    t.deepEqual(source.header.shape, [n]);
    t.deepEqual(await readAll(source, 8, 777), bytesOf(values));
  });
}

for (const format of FORMATS) {
  test(`a chunk over a few batches is a range of pieces; over very many tiny ones, bytes read here (${format})`, async (t) => {
    const values = Float64Array.from({ length: 1000 }, (_, i) => i / 3);
    const few = await openArrowPath(save(t, ipcOf([{ name: 'x', column: columnFromArray(values, float64(), { maxBatchRows: 100 }) }], format)));
    t.teardown(() => few.close());
    // The smallest batch but the last bounds the chunk that is always a range: 62 batches of 100 rows.
    t.is(few.rangeChunkElements, 6200);
    const spanning = await few.chunk(50, 300);
    if (spanning.kind !== 'range') return t.fail('a chunk over 4 batches is a range');
    t.deepEqual(spanning.pieces.map((p) => p.byteLength), [50, 100, 100, 50].map((rows) => rows * 8));
    t.deepEqual(chunkBytes(spanning), bytesOf(values.subarray(50, 350)));
    const tiny = await openArrowPath(save(t, ipcOf([{ name: 'x', column: columnFromArray(values, float64(), { maxBatchRows: 5 }) }], format)));
    t.teardown(() => tiny.close());
    const many = await tiny.chunk(3, 500);
    t.is(many.kind, 'bytes', '101 pieces are too many for a worker to read one by one');
    t.deepEqual(chunkBytes(many), bytesOf(values.subarray(3, 503)));
  });
}

test('rangeChunkElements: 62 of the smallest batch but the last, for any number of batches', (t) => {
  t.is(rangeChunkElements([]), Infinity);
  t.is(rangeChunkElements([{ elements: 5 }]), Infinity, 'one batch: every chunk is one piece');
  t.is(rangeChunkElements([{ elements: 100 }, { elements: 7 }, { elements: 100 }, { elements: 1 }]), 62 * 7);
  // More batches than a function call takes arguments (V8 overflows near 120k).
  const many = Array.from({ length: 300_000 }, (_, i) => ({ elements: i === 123_456 ? 3 : 8 }));
  t.is(rangeChunkElements(many), 62 * 3);
});

test('a bool column split across batches and chunks unpacks every bit', async (t) => {
  const values = Array.from({ length: 2049 }, (_, i) => i % 3 === 0 || i % 7 === 0);
  const source = await openArrowPath(save(t, ipcOf([{ name: 'b', column: columnFromArray(values, bool(), { maxBatchRows: 1000 }) }], 'stream')));
  t.teardown(() => source.close());
  t.deepEqual(await readAll(source, 1, 333), Uint8Array.from(values, Number));
});

test('a FixedSizeList<float32>[3] column has shape [rows, 3]', async (t) => {
  const rows = Array.from({ length: 1001 }, (_, i) => [i, i + 0.5, -i]);
  const column = columnFromArray(rows, fixedSizeList(float32(), 3), { maxBatchRows: 250 });
  const source = await openArrowPath(save(t, ipcOf([{ name: 'v', column }], 'file')));
  t.teardown(() => source.close());
  t.deepEqual(source.header.shape, [1001, 3]);
  t.is(source.header.dtype, 'float32');
  t.deepEqual(await readAll(source, 4, 1000), bytesOf(Float32Array.from(rows.flat())));
});

test('nested fixed-size lists give [rows, k1, k2]', async (t) => {
  const rows = Array.from({ length: 40 }, (_, i) => [
    [i, i + 1, i + 2],
    [-i, -i - 1, -i - 2],
  ]);
  const column = columnFromArray(rows, fixedSizeList(fixedSizeList(int32(), 3), 2), { maxBatchRows: 7 });
  const source = await openArrowPath(save(t, ipcOf([{ name: 'v', column }], 'stream')));
  t.teardown(() => source.close());
  t.deepEqual(source.header.shape, [40, 2, 3]);
  t.is(source.header.dtype, 'int32');
  t.deepEqual(await readAll(source, 4, 50), bytesOf(Int32Array.from(rows.flat(2))));
});

const tensorMetadata = (extra: Record<string, unknown>): Map<string, string> =>
  new Map([
    ['ARROW:extension:name', 'arrow.fixed_shape_tensor'],
    ['ARROW:extension:metadata', JSON.stringify(extra)],
  ]);

function tensorColumn(rows: number, width: number): { column: Column<unknown>; flat: Float32Array } {
  const flat = Float32Array.from({ length: rows * width }, (_, i) => i / 4);
  const data = Array.from({ length: rows }, (_, r) => [...flat.subarray(r * width, (r + 1) * width)]);
  return { column: columnFromArray(data, fixedSizeList(float32(), width), { maxBatchRows: 3 }), flat };
}

for (const format of FORMATS) {
  test(`arrow.fixed_shape_tensor gives [rows, ...shape] (${format})`, async (t) => {
    const { column, flat } = tensorColumn(10, 6);
    const source = await openArrowPath(save(t, ipcOf([{ name: 't', column, metadata: tensorMetadata({ shape: [2, 3], dim_names: ['a', 'b'] }) }], format)));
    t.teardown(() => source.close());
    t.deepEqual(source.header.shape, [10, 2, 3]);
    t.deepEqual(await readAll(source, 4, 7), bytesOf(flat));
  });
}

test('an identity permutation is accepted', async (t) => {
  const { column } = tensorColumn(4, 6);
  const source = await openArrowPath(save(t, ipcOf([{ name: 't', column, metadata: tensorMetadata({ shape: [2, 3], permutation: [0, 1] }) }], 'file')));
  t.teardown(() => source.close());
  t.deepEqual(source.header.shape, [4, 2, 3]);
});

test('a non-identity permutation is refused', async (t) => {
  const { column } = tensorColumn(4, 6);
  const path = save(t, ipcOf([{ name: 't', column, metadata: tensorMetadata({ shape: [2, 3], permutation: [1, 0] }) }], 'file'));
  await expectError(t, openArrowPath(path), /column 't'.*permutation \[1,0\] is unsupported/, path);
});

test('fixed_shape_tensor metadata that does not match its storage is refused', async (t) => {
  const { column } = tensorColumn(4, 6);
  const path = save(t, ipcOf([{ name: 't', column, metadata: tensorMetadata({ shape: [4, 2] }) }], 'file'));
  await expectError(t, openArrowPath(path), /bad arrow\.fixed_shape_tensor metadata/);
  const noShape = save(t, ipcOf([{ name: 't', column, metadata: tensorMetadata({ dims: [2, 3] }) }], 'file'));
  await expectError(t, openArrowPath(noShape), /no "shape" list/);
});

test('other extension types are refused', async (t) => {
  const metadata = new Map([['ARROW:extension:name', 'example.fp8']]);
  const path = save(t, ipcOf([{ name: 'q', column: columnFromArray(Uint8Array.of(1, 2)), metadata }], 'file'));
  await expectError(t, openArrowPath(path), /extension type example\.fp8/);
});

// ---------------------------------------------------------------------------
// Columns.

function twoColumns(format: ArrowFormat): Uint8Array {
  const table = tableFromArrays({ pred: Float32Array.of(1, 2, 3), target: Int16Array.of(4, 5, 6) });
  const bytes = tableToIPC(table, { format });
  if (bytes === null) throw new Error('flechette wrote nothing');
  return bytes;
}

test('two columns of one file are read by name', async (t) => {
  const path = save(t, twoColumns('file'));
  const pred = await openArrowPath(path, 'pred');
  const target = await openArrowPath(path, 'target');
  t.teardown(async () => {
    await pred.close();
    await target.close();
  });
  t.is(pred.header.dtype, 'float32');
  t.is(target.header.dtype, 'int16');
  t.deepEqual(await readAll(pred, 4), bytesOf(Float32Array.of(1, 2, 3)));
  t.deepEqual(await readAll(target, 2), bytesOf(Int16Array.of(4, 5, 6)));
});

/** A column of every layout kind before `target`, so that finding its buffers means counting theirs. */
function manyLayouts(format: ArrowFormat, n: number, before: Record<string, FlechetteType>): { bytes: Uint8Array; target: Float64Array } {
  const target = Float64Array.from({ length: n }, (_, i) => i * 0.25 - 3);
  const values: Record<string, (i: number) => unknown> = {
    utf8: (i) => `s${i}`,
    list: (i) => Array.from({ length: i % 4 }, (_, k) => k),
    struct: (i) => ({ a: i, b: `b${i}` }),
    dictionary: (i) => ['x', 'y', 'z'][i % 3],
    fixedSizeList: (i) => [i % 100, -(i % 100)],
    bool: (i) => i % 2 === 0,
    null: () => null,
  };
  const columns: ColumnSpec[] = Object.entries(before).map(([name, type]) => ({
    name,
    column: columnFromArray(Array.from({ length: n }, (_, i) => values[name]!(i)), type, { maxBatchRows: 700 }),
  }));
  columns.push({ name: 'target', column: columnFromArray(target, float64(), { maxBatchRows: 700 }) });
  return { bytes: ipcOf(columns, format), target };
}

const COUNTED_LAYOUTS: Record<string, FlechetteType> = {
  utf8: utf8(),
  list: list(int32()),
  struct: struct({ a: float32(), b: utf8() }),
  dictionary: dictionary(utf8()),
  fixedSizeList: fixedSizeList(int8(), 2),
  bool: bool(),
  null: nullType(),
};

for (const format of FORMATS) {
  test(`a column after strings, lists, structs, dictionaries and nulls is found in every batch (${format})`, async (t) => {
    const { bytes, target } = manyLayouts(format, 2000, COUNTED_LAYOUTS);
    const path = save(t, bytes);
    const source = await openArrowPath(path, 'target');
    t.teardown(() => source.close());
    // Inside one batch: a byte range for the worker to read, as for .npy.
    t.is((await source.chunk(0, 700)).kind, 'range');
    const again = await openArrowPath(path, 'target');
    t.teardown(() => again.close());
    t.deepEqual(await readAll(again, 8, 999), bytesOf(target));
    // The same through apache-arrow's record batches, from a pipe.
    const piped = await (await openArrowStream('<stdin>', Readable.from([manyLayouts('stream', 2000, COUNTED_LAYOUTS).bytes], { objectMode: false }), { column: 'target' })).withRows(2000);
    t.teardown(() => piped.close());
    t.deepEqual(await readAll(piped, 8, 999), bytesOf(target));
  });
}

test('a column after a view column is read through record batches', async (t) => {
  // flechette cannot build views, so apache-arrow writes this one.
  const target = Float64Array.from({ length: 1500 }, (_, i) => i - 0.5);
  const views = vectorFromArray(Array.from({ length: 1500 }, (_, i) => `a string too long to be stored inline ${i}`), new Utf8View());
  const bytes = tableToIPCArrow(new ArrowTable({ v: views, target: vectorFromArray([...target], new Float64()) }), 'file');
  const source = await openArrowPath(save(t, bytes), 'target');
  t.teardown(() => source.close());
  t.is((await source.chunk(0, 10)).kind, 'bytes');
  const again = await openArrowPath(save(t, bytes), 'target');
  t.teardown(() => again.close());
  t.deepEqual(await readAll(again, 8, 999), bytesOf(target));
});

test('a multi-field schema without a column names the fields', async (t) => {
  const path = save(t, twoColumns('stream'));
  await expectError(t, openArrowPath(path), /2 columns \('pred', 'target'\); choose one with --input-column or --label-column/, path);
});

test('a missing column names the fields there are', async (t) => {
  const path = save(t, twoColumns('file'));
  await expectError(t, openArrowPath(path, 'prediction'), /no column 'prediction'; the columns are 'pred', 'target'/, path);
});

test('a single-field schema with a wrong column name is refused too', async (t) => {
  const path = save(t, ipcOf([{ name: 'x', column: columnFromArray(Float32Array.of(1)) }], 'file'));
  await expectError(t, openArrowPath(path, 'y'), /no column 'y'; the columns are 'x'/);
});

// ---------------------------------------------------------------------------
// Nulls.

test('a null names file, column and its row, across batches', async (t) => {
  const values: (number | null)[] = Array.from({ length: 3000 }, (_, i) => i);
  values[1234] = null;
  values[2500] = null;
  const column = columnFromArray(values, float64(), { maxBatchRows: 1000 });
  for (const format of FORMATS) {
    const path = save(t, ipcOf([{ name: 'pred', column }], format));
    const source = await openArrowPath(path);
    t.teardown(() => source.close());
    await expectError(t, readAll(source, 8, 600), /column 'pred' has a null at row 1234/, path);
  }
});

test('a null list row or a null inside a list is reported at its row', async (t) => {
  const rows: ((number | null)[] | null)[] = Array.from({ length: 20 }, (_, i) => [i, i, i]);
  rows[13] = null;
  const path = save(t, ipcOf([{ name: 'v', column: columnFromArray(rows, fixedSizeList(float32(), 3), { maxBatchRows: 8 }) }], 'file'));
  const source = await openArrowPath(path);
  t.teardown(() => source.close());
  await expectError(t, readAll(source, 4, 10), /column 'v' has a null at row 13/);

  const inner: (number | null)[][] = Array.from({ length: 20 }, (_, i) => [i, i, i]);
  inner[17] = [1, null, 3];
  const path2 = save(t, ipcOf([{ name: 'w', column: columnFromArray(inner, fixedSizeList(float32(), 3), { maxBatchRows: 8 }) }], 'stream'));
  const source2 = await openArrowPath(path2);
  t.teardown(() => source2.close());
  await expectError(t, readAll(source2, 4, 10), /column 'w' has a null at row 17/);
});

test('nulls in another column do not matter', async (t) => {
  const table = tableFromArrays({ a: [1, null, 3], b: Float32Array.of(1, 2, 3) }, { types: { a: float64() } });
  const bytes = tableToIPC(table, { format: 'file' });
  if (bytes === null) throw new Error('flechette wrote nothing');
  const source = await openArrowPath(save(t, bytes), 'b');
  t.teardown(() => source.close());
  t.deepEqual(await readAll(source, 4), bytesOf(Float32Array.of(1, 2, 3)));
});

// ---------------------------------------------------------------------------
// Types we do not read.

const UNSUPPORTED: readonly { what: string; type: FlechetteType; values: unknown[]; shown: RegExp }[] = [
  { what: 'strings', type: utf8(), values: ['a', 'b'], shown: /Utf8/ },
  { what: 'dictionaries', type: dictionary(utf8()), values: ['a', 'b', 'a'], shown: /Dictionary/ },
  { what: 'structs', type: struct({ x: float32() }), values: [{ x: 1 }, { x: 2 }], shown: /Struct/ },
  { what: 'variable-size lists', type: list(float32()), values: [[1], [2, 3]], shown: /List/ },
  { what: 'fixed-size lists of strings', type: fixedSizeList(utf8(), 1), values: [['a'], ['b']], shown: /FixedSizeList.*Utf8/ },
];

for (const u of UNSUPPORTED) {
  test(`${u.what} are refused with the column and its type`, async (t) => {
    const path = save(t, ipcOf([{ name: 'c', column: columnFromArray(u.values, u.type) }], 'file'));
    const err = await t.throwsAsync(openArrowPath(path), { instanceOf: SmoothL1Error });
    t.regex(err?.reason ?? '', /^column 'c' has type /);
    t.regex(err?.reason ?? '', u.shown);
  });
}

test('compressed record batches are refused clearly', async (t) => {
  // An identity "codec": flechette still marks the batches as LZ4-compressed.
  setCompressionCodec(CompressionType.LZ4_FRAME, { encode: (b: Uint8Array) => b, decode: (b: Uint8Array) => b });
  const table = tableFromArrays({ x: Float32Array.from({ length: 100 }, (_, i) => i) });
  for (const format of FORMATS) {
    const bytes = tableToIPC(table, { format, codec: CompressionType.LZ4_FRAME });
    if (bytes === null) throw new Error('flechette wrote nothing');
    await expectError(t, openArrowPath(save(t, bytes)), /compressed Arrow IPC record batches are unsupported/);
  }
});

// ---------------------------------------------------------------------------
// Broken input.

const sample = (format: ArrowFormat): Uint8Array =>
  ipcOf([{ name: 'x', column: columnFromArray(Float64Array.from({ length: 5000 }, (_, i) => i), float64(), { maxBatchRows: 1000 }) }], format);

test('a zero-byte file is an error, not an empty table', async (t) => {
  const path = save(t, new Uint8Array(0));
  await expectError(t, openArrowPath(path), /empty file \(0 bytes\)/, path);
});

test('random bytes are not Arrow', async (t) => {
  const path = save(t, new TextEncoder().encode('this is not an arrow file, just text\n'));
  await expectError(t, openArrowPath(path), /not an Arrow IPC file or stream/, path);
});

test('a truncated IPC file is refused', async (t) => {
  const bytes = sample('file');
  for (const keep of [bytes.length - 1, bytes.length - 100, Math.floor(bytes.length / 2), 20, 9]) {
    const path = save(t, bytes.subarray(0, keep));
    await expectError(t, openArrowPath(path), /corrupt or truncated Arrow IPC data/, path);
  }
});

test('a truncated IPC stream is refused', async (t) => {
  const bytes = sample('stream');
  // Cut inside the schema, and inside a record batch body.
  for (const keep of [12, Math.floor(bytes.length / 2), bytes.length - 20]) {
    const path = save(t, bytes.subarray(0, keep));
    await expectError(t, openArrowPath(path), /corrupt or truncated Arrow IPC data/, path);
  }
});

test('a stream cut exactly between messages reads the rows it has', async (t) => {
  // The end-of-stream marker is optional (Columnar.html, "IPC Streaming Format").
  const bytes = sample('stream');
  const source = await openArrowPath(save(t, bytes.subarray(0, bytes.length - 8)));
  t.teardown(() => source.close());
  t.deepEqual(source.header.shape, [5000]);
});

/** Bytes that look like Arrow at the start and are garbage after it. */
const garbageAfter = (head: Uint8Array): fc.Arbitrary<Uint8Array> =>
  fc.uint8Array({ minLength: 0, maxLength: 600 }).map((tail) => {
    const out = new Uint8Array(head.length + tail.length);
    out.set(head);
    out.set(tail, head.length);
    return out;
  });

const everyFailureIsOneSmoothL1Error = async (t: ExecutionContext, bytes: Uint8Array): Promise<void> => {
  const path = save(t, bytes);
  try {
    const source = await openArrowPath(path);
    try {
      // Chunk by chunk, never all at once: a corrupt header may promise far more than the file holds.
      const total = source.header.shape.reduce((n, d) => n * d, 1);
      for (let start = 0; start < total; start += 1000) await source.chunk(start, Math.min(1000, total - start));
      t.pass('still readable');
    } finally {
      await source.close();
    }
  } catch (err) {
    t.true(err instanceof SmoothL1Error, String(err));
    if (err instanceof SmoothL1Error) t.notRegex(err.message, /\n/);
  }
};

testProp('random bytes after the file magic give a SmoothL1Error', [garbageAfter(Uint8Array.from([0x41, 0x52, 0x52, 0x4f, 0x57, 0x31, 0, 0]))], everyFailureIsOneSmoothL1Error, {
  numRuns: 100,
});

testProp('random bytes after a stream marker give a SmoothL1Error', [garbageAfter(Uint8Array.from([0xff, 0xff, 0xff, 0xff]))], everyFailureIsOneSmoothL1Error, {
  numRuns: 100,
});

for (const format of FORMATS) {
  testProp(
    `flipped bytes in a valid IPC ${format} give data or a SmoothL1Error`,
    [fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 })],
    async (t, flips) => {
      const bytes = sample(format).slice();
      for (const [at, xor] of flips) bytes[at % bytes.length] = bytes[at % bytes.length]! ^ xor;
      await everyFailureIsOneSmoothL1Error(t, bytes);
    },
    { numRuns: 100 },
  );
}

testProp(
  'flipped bytes in a piped stream give data or a SmoothL1Error',
  [fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 })],
  async (t, flips) => {
    const bytes = sample('stream').slice();
    for (const [at, xor] of flips) bytes[at % bytes.length] = bytes[at % bytes.length]! ^ xor;
    try {
      const source = await (await openArrowStream('<stdin>', Readable.from([bytes], { objectMode: false }), {})).withRows(5000);
      try {
        for (let start = 0; start < 5000; start += 1000) await source.chunk(start, 1000);
        t.pass('still readable');
      } finally {
        await source.close();
      }
    } catch (err) {
      t.true(err instanceof SmoothL1Error, String(err));
    }
  },
  { numRuns: 100 },
);

// ---------------------------------------------------------------------------
// Big-endian data. Neither flechette nor apache-arrow writes it on a
// little-endian machine, so the schema message is built by hand (Schema.fbs,
// Message.fbs) and flechette's record batches are byte-swapped behind it.

/** A forward-only flatbuffer writer: tables first, their children after, offsets patched in. */
class FlatbufferBytes {
  readonly bytes: number[] = [];
  get pos(): number {
    return this.bytes.length;
  }
  align(n: number): void {
    while (this.bytes.length % n !== 0) this.bytes.push(0);
  }
  int(value: number, size: 1 | 2 | 4): number {
    const at = this.pos;
    for (let i = 0; i < size; i++) this.bytes.push((value >>> (8 * i)) & 0xff);
    return at;
  }
  /** Points the uoffset at `at` to `target` (which lies after it). */
  patch(at: number, target: number): void {
    const rel = target - at;
    for (let i = 0; i < 4; i++) this.bytes[at + i] = (rel >>> (8 * i)) & 0xff;
  }
  /** A vtable and then its table: `fields` are [slot, size, value] in table order; offset-valued ones get 0 to patch. */
  table(fields: readonly (readonly [number, 1 | 2 | 4, number])[]): Map<number, number> {
    this.align(4);
    const slots = Math.max(...fields.map(([slot]) => slot)) + 1;
    let size = 4;
    const layout = fields.map(([slot, width]) => {
      size = Math.ceil(size / width) * width;
      const at = size;
      size += width;
      return [slot, at] as const;
    });
    size = Math.ceil(size / 4) * 4;
    const vtable = this.pos;
    this.int(4 + 2 * slots, 2);
    this.int(size, 2);
    for (let s = 0; s < slots; s++) this.int(layout.find(([slot]) => slot === s)?.[1] ?? 0, 2);
    this.align(4);
    const table = this.pos;
    this.int(table - vtable, 4);
    const where = new Map<number, number>();
    fields.forEach(([slot, width, value], i) => {
      while (this.pos < table + layout[i]![1]) this.bytes.push(0);
      where.set(slot, this.int(value, width));
    });
    while (this.pos < table + size) this.bytes.push(0);
    where.set(-1, table);
    return where;
  }
  string(s: string): number {
    this.align(4);
    const at = this.int(s.length, 4);
    for (const ch of new TextEncoder().encode(s)) this.bytes.push(ch);
    this.bytes.push(0);
    return at;
  }
}

type BigEndianColumn = { readonly name: string; readonly type: 'int32' | 'float64' };

/** The flatbuffer of a Schema message declaring Big endianness. */
function bigEndianSchema(columns: readonly BigEndianColumn[]): Uint8Array {
  const fb = new FlatbufferBytes();
  const root = fb.int(0, 4);
  // Message: version V5 (4), header_type Schema (1), header.
  const message = fb.table([
    [0, 2, 4],
    [1, 1, 1],
    [2, 4, 0],
  ]);
  fb.patch(root, message.get(-1)!);
  // Schema: endianness Big (1), fields.
  const schema = fb.table([
    [0, 2, 1],
    [1, 4, 0],
  ]);
  fb.patch(message.get(2)!, schema.get(-1)!);
  fb.align(4);
  fb.patch(schema.get(1)!, fb.int(columns.length, 4));
  const slots = columns.map(() => fb.int(0, 4));
  columns.forEach((c, i) => {
    // Field: name, nullable, type_type (Int 2, FloatingPoint 3), type, children.
    const f = fb.table([
      [0, 4, 0],
      [1, 1, 0],
      [2, 1, c.type === 'int32' ? 2 : 3],
      [3, 4, 0],
      [5, 4, 0],
    ]);
    fb.patch(slots[i]!, f.get(-1)!);
    fb.patch(f.get(0)!, fb.string(c.name));
    // Int { bitWidth 32, is_signed } or FloatingPoint { precision DOUBLE (2) }.
    const type =
      c.type === 'int32'
        ? fb.table([
            [0, 4, 32],
            [1, 1, 1],
          ])
        : fb.table([[0, 2, 2]]);
    fb.patch(f.get(3)!, type.get(-1)!);
    fb.align(4);
    fb.patch(f.get(5)!, fb.int(0, 4));
  });
  fb.align(8);
  return Uint8Array.from(fb.bytes);
}

/** Splits an IPC stream into its messages: [metadata flatbuffer, body]. */
function messagesOf(stream: Uint8Array): [Uint8Array, Uint8Array][] {
  const out: [Uint8Array, Uint8Array][] = [];
  const view = new DataView(stream.buffer, stream.byteOffset, stream.byteLength);
  for (let at = 0; at + 8 <= stream.length; ) {
    const length = view.getInt32(at + 4, true);
    if (length === 0) break;
    const metadata = stream.subarray(at + 8, at + 8 + length);
    const bodyLength = Message.decode(metadata).bodyLength;
    out.push([metadata, stream.subarray(at + 8 + length, at + 8 + length + bodyLength)]);
    at += 8 + length + bodyLength;
  }
  return out;
}

function swapEach(bytes: Uint8Array, size: number): void {
  for (let i = 0; i < bytes.length; i += size) bytes.subarray(i, i + size).reverse();
}

/** A big-endian IPC stream of `ints` (int32) and `floats` (float64) columns, in batches of 100 rows. */
function bigEndianStream(ints: Int32Array, floats: Float64Array): Uint8Array {
  const table = tableFromArrays({ i: ints, f: floats }, { maxBatchRows: 100 });
  const little = tableToIPC(table, { format: 'stream' });
  if (little === null) throw new Error('flechette wrote nothing');
  const parts = [framed(bigEndianSchema([{ name: 'i', type: 'int32' }, { name: 'f', type: 'float64' }]), new Uint8Array(0))];
  for (const [metadata, body] of messagesOf(little).slice(1)) {
    const header = Message.decode(metadata).header();
    const swapped = body.slice();
    // Buffers: validity and values of `i`, then of `f`.
    const regions: unknown = header !== null && typeof header === 'object' && 'buffers' in header ? header.buffers : [];
    if (!Array.isArray(regions) || regions.length !== 4) throw new Error('unexpected record batch layout');
    const region = (k: number): { offset: number; length: number } => regions[k] as { offset: number; length: number };
    swapEach(swapped.subarray(region(1).offset, region(1).offset + region(1).length), 4);
    swapEach(swapped.subarray(region(3).offset, region(3).offset + region(3).length), 8);
    parts.push(framed(metadata, swapped));
  }
  parts.push(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0));
  return new Uint8Array(Buffer.concat(parts));
}

test('big-endian Arrow data is reported as big-endian, bytes as stored', async (t) => {
  const ints = Int32Array.from({ length: 250 }, (_, i) => i * 1000003 - 7);
  const floats = Float64Array.from({ length: 250 }, (_, i) => i / 3);
  const path = save(t, bigEndianStream(ints, floats), 'be.arrows');
  for (const [column, values, size] of [
    ['i', ints, 4],
    ['f', floats, 8],
  ] as const) {
    const source = await openArrowPath(path, column);
    t.teardown(() => source.close());
    t.is(source.header.byteOrder, 'big');
    const got = await readAll(source, size, 64);
    // The worker swaps once, on load (task-level byte order); here we swap to compare.
    swapEach(got, size);
    t.deepEqual(got, bytesOf(values));
  }
});

/** The same stream in the pre-0.15 framing: lengths without continuation markers. */
function legacyStream(stream: Uint8Array): Uint8Array {
  const parts = messagesOf(stream).map(([metadata, body]) => framed(metadata, body).subarray(4));
  parts.push(new Uint8Array(4));
  return new Uint8Array(Buffer.concat(parts));
}

test('a legacy (pre-0.15) stream reads from a file and from a pipe', async (t) => {
  const values = Float64Array.from({ length: 5000 }, (_, i) => i);
  const legacy = legacyStream(sample('stream'));
  t.is(arrowFormat(legacy), 'stream');
  const source = await openArrowPath(save(t, legacy));
  t.teardown(() => source.close());
  t.deepEqual(source.header.shape, [5000]);
  t.deepEqual(await readAll(source, 8, 999), bytesOf(values));
  const fromPipe = await (await openArrowStream('<stdin>', Readable.from([legacy], { objectMode: false }), {})).withRows(5000);
  t.teardown(() => fromPipe.close());
  t.deepEqual(await readAll(fromPipe, 8, 999), bytesOf(values));
});

test('a big-endian stream from a pipe is reported as big-endian', async (t) => {
  const bytes = bigEndianStream(Int32Array.of(1, 2, 3), Float64Array.of(1, 2, 3));
  const unsized = await openArrowStream('<stdin>', Readable.from([bytes], { objectMode: false }), { column: 'i' });
  t.teardown(() => unsized.close());
  t.is(unsized.byteOrder, 'big');
});

// ---------------------------------------------------------------------------
// Streams from a pipe (stdin).

const pieces = (bytes: Uint8Array, size: number): Uint8Array[] =>
  Array.from({ length: Math.ceil(bytes.length / size) }, (_, i) => bytes.slice(i * size, (i + 1) * size));

/** The bytes as stdin delivers them: a byte-mode Node stream (Readable.from alone would be object mode). */
const piped = (bytes: Uint8Array, size: number): Readable => Readable.from(pieces(bytes, size), { objectMode: false });

async function openPiped(bytes: Uint8Array, column?: string, size = 1000): Promise<UnsizedTensorSource> {
  return openArrowStream('<stdin>', piped(bytes, size), { column });
}

/** The bytes as a generator yields them, as when the caller has already peeked at stdin's first bytes. */
async function* generated(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (const piece of pieces(bytes, size)) yield piece;
}

for (const size of [1, 100, 4093, 1 << 20]) {
  test(`a piped stream in pieces of ${size} bytes reads once given the other input’s row count`, async (t) => {
    const values = Float64Array.from({ length: 5000 }, (_, i) => i);
    for (const input of [piped(sample('stream'), size), generated(sample('stream'), size)]) {
      const unsized = await openArrowStream('<stdin>', input, {});
      t.is(unsized.dtype, 'float64');
      t.deepEqual(unsized.rowShape, []);
      const source = await unsized.withRows(5000);
      t.teardown(() => source.close());
      t.deepEqual(source.header.shape, [5000]);
      t.deepEqual(await readAll(source, 8, 777), bytesOf(values));
    }
  });
}

test('a piped stream with fewer rows than promised fails while reading', async (t) => {
  const source = await (await openPiped(sample('stream'))).withRows(6000);
  t.teardown(() => source.close());
  await expectError(t, readAll(source, 8, 1000), /shapes differ: the stream ended after 5000 rows, the other input has 6000/, '<stdin>');
});

test('a piped stream with more rows than promised fails on its last chunk', async (t) => {
  const source = await (await openPiped(sample('stream'))).withRows(4500);
  t.teardown(() => source.close());
  await expectError(t, readAll(source, 8, 1000), /shapes differ: the stream has more than the 4500 rows/);
});

test('a piped stream promised zero rows is checked before any chunk', async (t) => {
  const unsized = await openPiped(sample('stream'));
  t.teardown(() => unsized.close());
  await expectError(t, unsized.withRows(0), /more than the 0 rows/);
});

test('a piped FixedSizeList stream keeps its row shape', async (t) => {
  const { column, flat } = tensorColumn(9, 6);
  const unsized = await openPiped(ipcOf([{ name: 't', column, metadata: tensorMetadata({ shape: [3, 2] }) }], 'stream'), undefined, 100);
  t.deepEqual(unsized.rowShape, [3, 2]);
  const source = await unsized.withRows(9);
  t.teardown(() => source.close());
  t.deepEqual(source.header.shape, [9, 3, 2]);
  t.deepEqual(await readAll(source, 4, 10), bytesOf(flat));
});

test('an IPC file on a pipe is refused, not buffered', async (t) => {
  await expectError(t, openPiped(sample('file')), /Arrow IPC file cannot be read from a pipe/, '<stdin>');
});

test('an empty pipe and a pipe of text are refused', async (t) => {
  await expectError(t, openArrowStream('<stdin>', Readable.from([], { objectMode: false }), {}), /empty input \(0 bytes\)/);
  await expectError(t, openPiped(new TextEncoder().encode('not arrow at all, not at all')), /not an Arrow IPC stream/);
});

test('a piped stream cut inside a body is refused', async (t) => {
  const bytes = sample('stream');
  const source = await (await openPiped(bytes.subarray(0, bytes.length - 100))).withRows(5000);
  t.teardown(() => source.close());
  await expectError(t, readAll(source, 8, 1000), /corrupt or truncated|ended after/);
});

test('column selection errors come from piped streams too', async (t) => {
  await expectError(t, openPiped(twoColumns('stream')), /2 columns/);
  await expectError(t, openPiped(twoColumns('stream'), 'nope'), /no column 'nope'/);
});

// ---------------------------------------------------------------------------
// Memory: a file is read batch by batch, never whole.

/** Peak RSS of a fresh process that reads every chunk of `path` through `open` (a script expression). */
function peakRssReading(t: ExecutionContext, path: string, open: string, expectedSum: number): number {
  const reader = fileURLToPath(new URL('../../../src/formats/arrow/read.js', import.meta.url));
  const chunks = fileURLToPath(new URL('../../helpers/arrow-chunks.js', import.meta.url));
  const script = `
    import { createReadStream } from 'node:fs';
    import { open } from 'node:fs/promises';
    import { openArrowFile, openArrowStream } from ${JSON.stringify(reader)};
    import { chunkBytes } from ${JSON.stringify(chunks)};
    const path = ${JSON.stringify(path)};
    const source = await (${open});
    const total = source.header.shape[0];
    let sum = 0;
    for (let start = 0; start < total; start += 1 << 20) {
      const bytes = chunkBytes(await source.chunk(start, Math.min(1 << 20, total - start)));
      sum += new Float64Array(bytes.buffer, bytes.byteOffset, 1)[0];
    }
    await source.close();
    console.log(JSON.stringify({ sum, maxRss: process.resourceUsage().maxRSS * 1024 }));`;
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  t.is(run.status, 0, run.stderr);
  const { sum, maxRss } = JSON.parse(run.stdout) as { sum: number; maxRss: number };
  t.is(sum, expectedSum, 'every chunk read');
  return maxRss;
}

test('reading a 640 MiB IPC stream, as a file or from a pipe, keeps memory flat', async (t) => {
  const path = join(tempDir(t, 'smoothl1-arrow-big-'), 'big.arrows');
  const chunks = 80;
  const rows = chunks * 2 ** 20; // float64: 640 MiB
  const writer = await openArrowWriter(await openAtomicFile(path), 'stream', 'float64', [rows]);
  const piece = new Float64Array(2 ** 20).fill(1);
  for (let done = 0; done < rows; done += piece.length) await writer.write(bytesOf(piece));
  await writer.finish();
  const mib = (n: number): string => `${(n / 2 ** 20).toFixed(0)} MiB`;
  // Byte ranges: the workers would read the file; nothing is held here.
  const asFile = peakRssReading(t, path, 'openArrowFile(path, await open(path), {})', chunks);
  t.true(asFile < 200 * 2 ** 20, `peak RSS ${mib(asFile)} reading a 640 MiB file`);
  // Record batches through apache-arrow: a few batches live until the garbage collector runs.
  const piped = peakRssReading(t, path, `(await openArrowStream('-', createReadStream(path), {})).withRows(${rows})`, chunks);
  t.true(piped < 400 * 2 ** 20, `peak RSS ${mib(piped)} reading a 640 MiB stream from a pipe`);
});
