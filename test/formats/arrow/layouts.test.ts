import test, { type ExecutionContext } from 'ava';
import { fc, testProp } from '@fast-check/ava';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import {
  binary,
  bool,
  columnFromArray,
  dateDay,
  dateMillisecond,
  decimal32,
  decimal64,
  decimal128,
  decimal256,
  dictionary,
  duration,
  Endianness,
  field,
  fixedSizeBinary,
  fixedSizeList,
  float16,
  float32,
  float64,
  int16,
  int32,
  int64,
  int8,
  interval,
  IntervalUnit,
  largeBinary,
  largeList,
  largeUtf8,
  list,
  map,
  nullType,
  struct,
  Table,
  tableFromIPC as tableFromIPCFlechette,
  tableToIPC,
  timeMicrosecond,
  timeMillisecond,
  timeNanosecond,
  timeSecond,
  timestamp,
  TimeUnit,
  Type,
  uint16,
  uint32,
  uint64,
  uint8,
  union,
  UnionMode,
  utf8,
  Version,
  type Column,
  type DataType as FlechetteType,
} from '@uwdata/flechette';
import { MessageHeader, MetadataVersion, RecordBatchReader } from 'apache-arrow';
import { BufferRegion, Message, RecordBatch as RecordBatchHeader } from 'apache-arrow/ipc/metadata/message';
import type { ArrowFormat } from '../../../src/formats/arrow/magic.js';
import { ITEM_SIZE } from '../../../src/tensor/dtype.js';
import { SmoothL1Error } from '../../../src/tensor/errors.js';
import { decodeHalf } from '../../../src/tensor/float16.js';
import { openArrowStream } from '../../../src/formats/arrow/read.js';
import type { DType } from '../../../src/tensor/tensor.js';
import { chunkBytes } from '../../helpers/arrow-chunks.js';
import { framed, openArrowPath } from '../../helpers/arrow-files.js';
import { tempDir } from '../../helpers/tmp.js';

/*
 * The byte-range fast path of openArrowFile finds a column's values by
 * counting the field nodes and buffers of every column before it. These
 * properties put a target column after (and before) arbitrary columns of
 * every layout @uwdata/flechette, an Arrow writer independent of apache-arrow,
 * can write, and check that every element comes back byte for byte, through
 * ranges. They are the safety net for a fast path that has no apache-arrow
 * cross-check behind it: a miscount must show up either as wrong bytes or as
 * a fall-back to 'bytes' chunks.
 *
 * Layouts left out, and why:
 * - RunEndEncoded: flechette writes it, but the reader does not count its
 *   layout and hands such files to apache-arrow 21.2.0, which cannot decode
 *   it ("Unrecognized type"), so no such file opens at all.
 * - BinaryView, Utf8View, ListView, LargeListView: flechette cannot build them
 *   from JavaScript values, and the reader deliberately takes the record batch
 *   path after views (test/read-arrow.test.ts covers that with apache-arrow).
 * - Null nested in a struct (or any other parent): flechette's builders
 *   refuse it ("Unsupported data type: Null"); a top-level Null column is in.
 * - Dictionaries of nested values (list, struct): flechette 2.6.0 writes such
 *   a field without its value type's children (encodeField takes the
 *   dictionary type's children, which it has none of), a malformed schema.
 * - Nulls at a union itself (its children do get nulls): see PoolEntry.nullable.
 * - Metadata version V4: flechette writes V5 only, so V4 files are flechette's
 *   bytes with the version rewritten and the union validity buffers V4 has
 *   put back (toV4 below; its own tests check that flechette's V4-aware
 *   decoder reads them as it reads the V5 originals).
 */

// ---------------------------------------------------------------------------
// Seeded values: fast-check chooses layouts, seeds and sizes; the thousands of
// cell values come from a PRNG so that shrinking works on the layout, not on
// individual cells.

class Rng {
  #state: number;
  constructor(seed: number) {
    this.#state = seed >>> 0;
  }
  /** mulberry32: tiny, and good enough to vary lengths, nulls and bytes. */
  next(): number {
    let z = (this.#state = (this.#state + 0x6d2b79f5) >>> 0);
    z = Math.imul(z ^ (z >>> 15), z | 1);
    z ^= z + Math.imul(z ^ (z >>> 7), z | 61);
    return ((z ^ (z >>> 14)) >>> 0) / 2 ** 32;
  }
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  u32(): number {
    return Math.floor(this.next() * 2 ** 32);
  }
  big64(): bigint {
    return BigInt.asIntN(64, (BigInt(this.u32()) << 32n) | BigInt(this.u32()));
  }
  bytes(n: number): Uint8Array {
    return Uint8Array.from({ length: n }, () => this.int(0, 255));
  }
  /** Multi-byte characters too, so that string byte lengths differ from their lengths. */
  string(): string {
    const alphabet = ['a', 'b', 'z', '0', ' ', 'é', 'ß', '→', '日', '😀'];
    return Array.from({ length: this.int(0, 12) }, () => alphabet[this.int(0, alphabet.length - 1)]).join('');
  }
  list<T>(max: number, item: (r: Rng) => T): T[] {
    return Array.from({ length: this.int(0, max) }, () => item(this));
  }
}

// ---------------------------------------------------------------------------
// The preceding columns' layouts.

interface PoolEntry {
  /** A fresh type for each table: flechette writes dictionary ids into the type objects it encodes. */
  readonly type: () => FlechetteType;
  readonly value: (r: Rng) => unknown;
  /**
   * False where a null row would put a null at a union (directly, or through
   * a struct holding one): a union has no validity bitmap in V5, and the
   * empty one toV4 gives it only holds for a null count of 0.
   */
  readonly nullable?: false;
}

/** A value, or null in a `nulls` fraction of the rows. */
const maybe =
  <T>(nulls: number, value: (r: Rng) => T) =>
  (r: Rng): T | null =>
    r.next() < nulls ? null : value(r);

const typeIdOf = (ids: Readonly<Record<string, number>>) => (value: unknown): number =>
  ids[value === null ? 'null' : typeof value] ?? 0;

/** Number, string and boolean values, each in its own child. */
const scalarUnion = (mode: typeof UnionMode.Sparse | typeof UnionMode.Dense): FlechetteType =>
  union(mode, [float64(), utf8(), bool()], [0, 1, 2], typeIdOf({ number: 0, string: 1, boolean: 2 }));
const scalarUnionValue = (r: Rng): unknown => [r.next() * 100 - 50, r.string(), r.next() < 0.5][r.int(0, 2)];

/** Struct and list children with type ids that are not child indices. */
const nestedUnion = (mode: typeof UnionMode.Sparse | typeof UnionMode.Dense): FlechetteType =>
  union(
    mode,
    [struct({ a: int32(), s: utf8() }), list(int8())],
    [7, 3],
    (value) => (Array.isArray(value) ? 3 : 7),
  );
const nestedUnionValue = (r: Rng): unknown =>
  r.next() < 0.5 ? { a: r.int(-1000, 1000), s: r.string() } : r.list(4, () => r.int(-128, 127));

const POOL: Readonly<Record<string, PoolEntry>> = {
  null: { type: nullType, value: () => null },
  bool: { type: bool, value: (r) => r.next() < 0.5 },
  int8: { type: int8, value: (r) => r.int(-128, 127) },
  int16: { type: int16, value: (r) => r.int(-32768, 32767) },
  int32: { type: int32, value: (r) => r.u32() | 0 },
  int64: { type: int64, value: (r) => r.big64() },
  uint8: { type: uint8, value: (r) => r.int(0, 255) },
  uint16: { type: uint16, value: (r) => r.int(0, 65535) },
  uint32: { type: uint32, value: (r) => r.u32() },
  uint64: { type: uint64, value: (r) => BigInt.asUintN(64, r.big64()) },
  float16: { type: float16, value: (r) => r.next() * 1000 - 500 },
  float32: { type: float32, value: (r) => r.next() * 1e6 - 5e5 },
  float64: { type: float64, value: (r) => r.next() * 1e12 - 5e11 },
  utf8: { type: utf8, value: (r) => r.string() },
  binary: { type: binary, value: (r) => r.bytes(r.int(0, 9)) },
  largeUtf8: { type: largeUtf8, value: (r) => r.string() },
  largeBinary: { type: largeBinary, value: (r) => r.bytes(r.int(0, 9)) },
  fixedSizeBinary: { type: () => fixedSizeBinary(5), value: (r) => r.bytes(5) },
  decimal32: { type: () => decimal32(9, 2), value: (r) => r.int(-999_999, 999_999) / 100 },
  decimal64: { type: () => decimal64(18, 3), value: (r) => r.big64() / 1000n },
  decimal128: { type: () => decimal128(38, 4), value: (r) => r.big64() * r.big64() },
  decimal256: { type: () => decimal256(76, 5), value: (r) => r.big64() * r.big64() * r.big64() },
  dateDay: { type: dateDay, value: (r) => r.int(-20_000, 20_000) * 864e5 },
  dateMillisecond: { type: dateMillisecond, value: (r) => r.int(-20_000, 20_000) * 864e5 },
  timeSecond: { type: timeSecond, value: (r) => r.int(0, 86_399) },
  timeMillisecond: { type: timeMillisecond, value: (r) => r.int(0, 86_399_999) },
  timeMicrosecond: { type: timeMicrosecond, value: (r) => r.int(0, 86_399_999) * 1000 },
  timeNanosecond: { type: timeNanosecond, value: (r) => r.int(0, 86_399_999) * 1e6 },
  timestampSecond: { type: () => timestamp(TimeUnit.SECOND, 'UTC'), value: (r) => r.int(-1e9, 1e9) * 1000 },
  timestampMillisecond: { type: () => timestamp(TimeUnit.MILLISECOND), value: (r) => r.int(-1e12, 1e12) },
  timestampMicrosecond: { type: () => timestamp(TimeUnit.MICROSECOND, '+07:30'), value: (r) => r.int(-1e12, 1e12) },
  timestampNanosecond: { type: () => timestamp(TimeUnit.NANOSECOND), value: (r) => r.int(-1e9, 1e9) },
  intervalYearMonth: { type: () => interval(IntervalUnit.YEAR_MONTH), value: (r) => r.int(-1000, 1000) },
  intervalDayTime: { type: () => interval(IntervalUnit.DAY_TIME), value: (r) => [r.int(-1000, 1000), r.int(0, 86_399_999)] },
  intervalMonthDayNano: { type: () => interval(IntervalUnit.MONTH_DAY_NANO), value: (r) => [r.int(-100, 100), r.int(-100, 100), r.int(-1e12, 1e12)] },
  durationSecond: { type: () => duration(TimeUnit.SECOND), value: (r) => r.int(-1e9, 1e9) },
  durationNanosecond: { type: () => duration(TimeUnit.NANOSECOND), value: (r) => r.big64() },
  list: { type: () => list(int32()), value: (r) => r.list(5, maybe(0.2, (q) => q.int(-1e6, 1e6))) },
  largeList: { type: () => largeList(utf8()), value: (r) => r.list(4, maybe(0.2, (q) => q.string())) },
  listOfList: { type: () => list(list(int8())), value: (r) => r.list(3, () => r.list(3, () => r.int(-128, 127))) },
  fixedSizeList: { type: () => fixedSizeList(int16(), 3), value: (r) => [r.int(-9, 9), maybe(0.3, (q) => q.int(-9, 9))(r), r.int(-9, 9)] },
  fixedSizeListOfUtf8: { type: () => fixedSizeList(utf8(), 2), value: (r) => [r.string(), r.string()] },
  struct: { type: () => struct({ a: float32(), b: utf8() }), value: (r) => ({ a: r.next(), b: maybe(0.2, (q) => q.string())(r) }) },
  nestedStruct: {
    type: () => struct({ s: struct({ x: int64(), y: bool() }), l: list(float64()) }),
    value: (r) => ({ s: maybe(0.3, (q) => ({ x: q.big64(), y: q.next() < 0.5 }))(r), l: r.list(3, () => r.next()) }),
  },
  listOfStruct: {
    type: () => list(struct({ k: utf8(), v: int32() })),
    value: (r) => r.list(4, maybe(0.2, (q) => ({ k: q.string(), v: q.int(-99, 99) }))),
  },
  map: { type: () => map(utf8(), int32()), value: (r) => r.list(4, () => [r.string(), maybe(0.2, (q) => q.int(-99, 99))(r)]) },
  mapOfList: { type: () => map(int32(), list(utf8())), value: (r) => r.list(3, () => [r.int(-99, 99), r.list(2, () => r.string())]) },
  dictionaryUtf8: { type: () => dictionary(utf8()), value: (r) => ['red', 'green', 'blue', 'ünïcode', ''][r.int(0, 4)] },
  dictionaryInt: { type: () => dictionary(int64(), int8()), value: (r) => BigInt(r.int(-20, 20)) },
  structOfDictionary: { type: () => struct({ d: dictionary(utf8(), int16()), n: int16() }), value: (r) => ({ d: ['p', 'q', 'r'][r.int(0, 2)], n: r.int(-9, 9) }) },
  listOfDictionary: { type: () => list(dictionary(utf8())), value: (r) => r.list(3, () => ['u', 'v'][r.int(0, 1)]) },
  sparseUnion: { type: () => scalarUnion(UnionMode.Sparse), value: scalarUnionValue, nullable: false },
  denseUnion: { type: () => scalarUnion(UnionMode.Dense), value: scalarUnionValue, nullable: false },
  sparseUnionOfNested: { type: () => nestedUnion(UnionMode.Sparse), value: nestedUnionValue, nullable: false },
  denseUnionOfNested: { type: () => nestedUnion(UnionMode.Dense), value: nestedUnionValue, nullable: false },
  // A union inside a struct and inside a list: its buffers sit in the middle of its parent's.
  structOfUnion: {
    type: () => struct({ before: utf8(), u: scalarUnion(UnionMode.Dense), after: int8() }),
    value: (r) => ({ before: r.string(), u: scalarUnionValue(r), after: r.int(-128, 127) }),
    nullable: false,
  },
  listOfUnion: { type: () => list(scalarUnion(UnionMode.Sparse)), value: (r) => r.list(4, () => scalarUnionValue(r)) },
};

const POOL_NAMES = Object.keys(POOL);

/** `rows` values of `entry`, a `nulls` fraction of them null where the layout allows nulls. */
function poolValues(entry: PoolEntry, rows: number, nulls: number, seed: number): unknown[] {
  const r = new Rng(seed);
  const value = entry.nullable === false ? entry.value : maybe(nulls, entry.value);
  return Array.from({ length: rows }, () => value(r));
}

// ---------------------------------------------------------------------------
// The target column.

type TargetKind = 'float64' | 'float32' | 'float16' | 'int16' | 'uint8' | 'fixedSizeList';

interface Target {
  readonly column: Column<unknown>;
  readonly dtype: DType;
  /** Elements per row: the list size, or 1. */
  readonly width: number;
  /** The values as stored, in row-major order. */
  readonly bytes: Uint8Array;
}

const bytesOf = (a: ArrayBufferView): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** A float32 of random bits other than NaN, whose payload a round trip through a JS number may not keep. */
function randomFloat32(r: Rng): number {
  const bits = new Uint32Array(1);
  do bits[0] = r.u32();
  while (((bits[0]! >>> 23) & 0xff) === 0xff && (bits[0]! & 0x7fffff) !== 0);
  return new Float32Array(bits.buffer)[0]!;
}

function randomFloat64(r: Rng): number {
  const words = new Uint32Array(2);
  let value: number;
  do {
    words[0] = r.u32();
    words[1] = r.u32();
    value = new Float64Array(words.buffer)[0]!;
  } while (Number.isNaN(value));
  return value;
}

/** Half-float bits other than NaN: flechette takes numbers and converts, which keeps every other pattern exactly. */
function randomHalfBits(r: Rng): number {
  let bits: number;
  do bits = r.int(0, 0xffff);
  while ((bits & 0x7c00) === 0x7c00 && (bits & 0x3ff) !== 0);
  return bits;
}

/**
 * The target's values from a seed. Every kind goes through flechette's
 * builders (not typed arrays used as they are), so that its batches split
 * exactly as the other columns' do.
 */
function targetColumn(kind: TargetKind, listSize: number, rows: number, seed: number, maxBatchRows: number): Target {
  const r = new Rng(seed);
  const options = { maxBatchRows };
  switch (kind) {
    case 'float64': {
      const v = Float64Array.from({ length: rows }, () => randomFloat64(r));
      return { column: columnFromArray([...v], float64(), options), dtype: 'float64', width: 1, bytes: bytesOf(v) };
    }
    case 'float32': {
      const v = Float32Array.from({ length: rows }, () => randomFloat32(r));
      return { column: columnFromArray([...v], float32(), options), dtype: 'float32', width: 1, bytes: bytesOf(v) };
    }
    case 'float16': {
      const bits = Uint16Array.from({ length: rows }, () => randomHalfBits(r));
      return { column: columnFromArray([...bits].map(decodeHalf), float16(), options), dtype: 'float16', width: 1, bytes: bytesOf(bits) };
    }
    case 'int16': {
      const v = Int16Array.from({ length: rows }, () => r.int(-32768, 32767));
      return { column: columnFromArray([...v], int16(), options), dtype: 'int16', width: 1, bytes: bytesOf(v) };
    }
    case 'uint8': {
      const v = Uint8Array.from({ length: rows }, () => r.int(0, 255));
      return { column: columnFromArray([...v], uint8(), options), dtype: 'uint8', width: 1, bytes: bytesOf(v) };
    }
    case 'fixedSizeList': {
      const v = Float32Array.from({ length: rows * listSize }, () => randomFloat32(r));
      const lists = Array.from({ length: rows }, (_, i) => [...v.subarray(i * listSize, (i + 1) * listSize)]);
      return { column: columnFromArray(lists, fixedSizeList(float32(), listSize), options), dtype: 'float32', width: listSize, bytes: bytesOf(v) };
    }
  }
}

// ---------------------------------------------------------------------------
// Writing: flechette's V5 bytes, or the same made V4.

interface NamedColumn {
  readonly name: string;
  readonly type: FlechetteType;
  readonly column: Column<unknown>;
}

function flechetteIpc(columns: readonly NamedColumn[], format: ArrowFormat): Uint8Array {
  const fields = columns.map((c) => field(c.name, c.type, true));
  const schema = { version: Version.V5, endianness: Endianness.Little, fields, metadata: null };
  const bytes = tableToIPC(new Table(schema, columns.map((c) => c.column)), { format });
  if (bytes === null) throw new Error('flechette wrote nothing');
  return bytes;
}

/**
 * The V5 buffer index of each union's type-id buffer, in the order of the
 * record batch's buffer list. Follows flechette's encoder (visit in
 * src/encode/table-to-ipc.js), not the reader under test; if it were wrong,
 * the toV4 tests below would see flechette decode garbage.
 */
function unionTypeIdBuffers(types: readonly FlechetteType[]): number[] {
  const found: number[] = [];
  let next = 0;
  const visit = (type: FlechetteType): void => {
    switch (type.typeId) {
      case Type.Null:
        return;
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
      case Type.Dictionary:
        next += 2;
        return;
      case Type.Utf8:
      case Type.LargeUtf8:
      case Type.Binary:
      case Type.LargeBinary:
        next += 3;
        return;
      case Type.List:
      case Type.LargeList:
      case Type.Map:
        next += 2;
        break;
      case Type.FixedSizeList:
      case Type.Struct:
        next += 1;
        break;
      case Type.Union:
        found.push(next);
        next += type.mode === UnionMode.Dense ? 2 : 1;
        break;
      default:
        throw new Error(`toV4 does not know type id ${type.typeId}`);
    }
    for (const child of type.children) visit(child.type);
  };
  types.forEach(visit);
  return found;
}

/** Overwrites the `version` field (slot 0) of a Message or Footer flatbuffer, which flechette always writes. */
function setVersion(flatbuffer: Uint8Array, version: number): void {
  const view = new DataView(flatbuffer.buffer, flatbuffer.byteOffset, flatbuffer.byteLength);
  const table = view.getUint32(0, true);
  const vtable = table - view.getInt32(table, true);
  const at = view.getUint16(vtable, true) > 4 ? view.getUint16(vtable + 4, true) : 0;
  if (at === 0) throw new Error('no version field to rewrite');
  view.setInt16(table + at, version, true);
}

const padTo8 = (bytes: Uint8Array): Uint8Array => {
  const out = new Uint8Array(Math.ceil(bytes.length / 8) * 8);
  out.set(bytes);
  return out;
};

/**
 * flechette's IPC bytes as metadata version V4: every message and the
 * footer say V4, and each union gets back the validity buffer V4 gives it
 * (empty, which is valid with no nulls at the union itself), right before
 * its type ids. Bodies are untouched; only the buffer lists grow, so each
 * record batch message is re-encoded and a file's footer blocks moved.
 */
function toV4(bytes: Uint8Array, format: ArrowFormat, types: readonly FlechetteType[]): Uint8Array {
  const unions = unionTypeIdBuffers(types).reverse();
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const start = format === 'file' ? 8 : 0;
  const parts: Uint8Array[] = [bytes.subarray(0, start)];
  // Old message offset -> new offset and framed metadata length, for the footer's blocks.
  const moved = new Map<number, { offset: number; metadataLength: number }>();
  let at = start;
  let written = start;
  for (let length: number; (length = view.getInt32(at + 4, true)) !== 0; ) {
    let metadata: Uint8Array = bytes.slice(at + 8, at + 8 + length);
    const message = Message.decode(metadata);
    const body = bytes.subarray(at + 8 + length, at + 8 + length + message.bodyLength);
    if (message.isRecordBatch() && unions.length > 0) {
      const header = message.header();
      const buffers = header.buffers.slice();
      // Back to front, so that each V5 index still points at its union's type ids.
      for (const i of unions) buffers.splice(i, 0, new BufferRegion(buffers[i]?.offset ?? 0, 0));
      const rebuilt = new RecordBatchHeader(header.length, header.nodes, buffers, header.compression, header.variadicBufferCounts);
      metadata = Message.encode(new Message(message.bodyLength, MetadataVersion.V4, MessageHeader.RecordBatch, rebuilt));
    }
    setVersion(metadata, Version.V4);
    const out = framed(padTo8(metadata), body);
    moved.set(at, { offset: written, metadataLength: out.length - body.length });
    parts.push(out);
    at += 8 + length + body.length;
    written += out.length;
  }
  const rest = bytes.slice(at);
  if (format === 'file') {
    const footerLength = view.getInt32(bytes.length - 10, true);
    const footer = rest.subarray(rest.length - 10 - footerLength, rest.length - 10);
    setVersion(footer, Version.V4);
    const fv = new DataView(footer.buffer, footer.byteOffset, footer.byteLength);
    const root = fv.getUint32(0, true);
    const vtable = root - fv.getInt32(root, true);
    // Footer slots 2 and 3: dictionary and record batch blocks (File.fbs), 24-byte structs.
    for (const slot of [2, 3]) {
      const fieldAt = 4 + 2 * slot < fv.getUint16(vtable, true) ? fv.getUint16(vtable + 4 + 2 * slot, true) : 0;
      if (fieldAt === 0) continue;
      const vector = root + fieldAt + fv.getUint32(root + fieldAt, true);
      for (let i = 0; i < fv.getUint32(vector, true); i++) {
        const block = vector + 4 + 24 * i;
        const to = moved.get(Number(fv.getBigInt64(block, true)));
        if (to === undefined) throw new Error('a footer block points at no message');
        fv.setBigInt64(block, BigInt(to.offset), true);
        fv.setInt32(block + 8, to.metadataLength, true);
      }
    }
  }
  parts.push(rest);
  return new Uint8Array(Buffer.concat(parts));
}

// ---------------------------------------------------------------------------
// Reading.

function firstDifference(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

/** Index of the batch holding element `e`, given each batch's first element. */
function batchOf(starts: readonly number[], e: number): number {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid]! <= e) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

// ---------------------------------------------------------------------------
// The properties.

const FORMATS: readonly ArrowFormat[] = ['file', 'stream'];
type MetadataV = typeof Version.V4 | typeof Version.V5;

interface Case {
  readonly before: readonly string[];
  readonly after: readonly string[];
  readonly nulls: number;
  readonly target: TargetKind;
  readonly listSize: number;
  readonly rows: number;
  readonly maxBatchRows: number;
  readonly format: ArrowFormat;
  readonly version: MetadataV;
  readonly chunk: number;
  readonly seed: number;
}

const hasUnion = (name: string): boolean => unionTypeIdBuffers([POOL[name]!.type()]).length > 0;
const WITH_UNION = POOL_NAMES.filter(hasUnion);

/** Cases of one metadata version whose other columns come from `pool`; `before` is given by the caller. */
const casesWith = (version: MetadataV, before: fc.Arbitrary<string[]>, pool: readonly string[], minRows = 0): fc.Arbitrary<Case> =>
  fc.record({
    before,
    // Columns after the target too: a count one too high then lands on their buffers and reads wrong bytes.
    after: fc.array(fc.constantFrom(...pool), { minLength: 0, maxLength: 2, size: 'max' }),
    nulls: fc.constantFrom(0, 0.1, 0.5, 1),
    target: fc.constantFrom<TargetKind>('float64', 'float32', 'float16', 'int16', 'uint8', 'fixedSizeList'),
    listSize: fc.integer({ min: 1, max: 5 }),
    rows: fc.integer({ min: minRows, max: 3000 }),
    maxBatchRows: fc.integer({ min: 1, max: 1500 }),
    format: fc.constantFrom(...FORMATS),
    version: fc.constant(version),
    chunk: fc.integer({ min: 1, max: 5000 }),
    seed: fc.integer(),
  });

const upToSix = (pool: readonly string[]): fc.Arbitrary<string[]> =>
  fc.array(fc.constantFrom(...pool), { minLength: 0, maxLength: 6, size: 'max' });

/** 0 to 6 columns before the target, at least one of them a union (or holding one). */
const withAUnion: fc.Arbitrary<string[]> = fc
  .tuple(upToSix(POOL_NAMES), fc.constantFrom(...WITH_UNION), fc.nat())
  .map(([others, u, at]) => {
    const before = others.slice(0, 5);
    before.splice(at % (before.length + 1), 0, u);
    return before;
  });

const describe = (c: Case): string =>
  `${c.format} V${c.version + 1}, [${c.before.join(', ')}] target ${c.target}${c.target === 'fixedSizeList' ? `[${c.listSize}]` : ''} [${c.after.join(', ')}], ` +
  `${c.rows} rows in batches of ${c.maxBatchRows}, nulls ${c.nulls}`;

function writeCase(t: ExecutionContext, c: Case): { path: string; target: Target } {
  const target = targetColumn(c.target, c.listSize, c.rows, c.seed, c.maxBatchRows);
  const other = (prefix: string) => (name: string, i: number): NamedColumn => {
    const entry = POOL[name]!;
    const type = entry.type();
    const values = poolValues(entry, c.rows, c.nulls, c.seed + 7919 * (i + 1) + (prefix === 'a' ? 104_729 : 0));
    return { name: `${prefix}${i}_${name}`, type, column: columnFromArray(values, type, { maxBatchRows: c.maxBatchRows }) };
  };
  const columns = [
    ...c.before.map(other('b')),
    { name: 'target', type: target.column.type, column: target.column },
    ...c.after.map(other('a')),
  ];
  const v5 = flechetteIpc(columns, c.format);
  const bytes = c.version === Version.V4 ? toV4(v5, c.format, columns.map((col) => col.type)) : v5;
  const path = join(tempDir(t, 'smoothl1-layouts-'), c.format === 'file' ? 'data.arrow' : 'data.arrows');
  writeFileSync(path, bytes);
  return { path, target };
}

/** Header, every element (chunks asked for at once, shuffled) and the range fast path, for one case. */
async function checkCase(t: ExecutionContext, c: Case): Promise<void> {
  const { path, target } = writeCase(t, c);
  const what = describe(c);
  const source = await openArrowPath(path, 'target');
  try {
    t.is(source.header.dtype, target.dtype, what);
    t.is(source.header.byteOrder, 'little');
    t.false(source.header.fortranOrder);
    t.deepEqual(source.header.shape, c.target === 'fixedSizeList' ? [c.rows, c.listSize] : [c.rows], what);

    const itemSize = ITEM_SIZE[target.dtype];
    const total = c.rows * target.width;
    // Each batch's first element, from the batches flechette built.
    const starts: number[] = [];
    for (let e = 0, b = 0; b < target.column.data.length; e += target.column.data[b]!.length * target.width, b++) starts.push(e);
    const inOneBatch = (start: number, count: number): boolean => batchOf(starts, start) === batchOf(starts, start + count - 1);

    // All at once and out of order, as workers may ask: ranges must not depend on order.
    const order = Array.from({ length: Math.ceil(total / c.chunk) }, (_, i) => i * c.chunk);
    const r = new Rng(c.seed ^ 0x5bd1e995);
    for (let i = order.length - 1; i > 0; i--) {
      const j = r.int(0, i);
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    const got = new Uint8Array(total * itemSize);
    const notRanges: { start: number; count: number }[] = [];
    await Promise.all(
      order.map(async (start) => {
        const count = Math.min(c.chunk, total - start);
        const chunk = await source.chunk(start, count);
        if (chunk.kind !== 'range' && inOneBatch(start, count)) notRanges.push({ start, count });
        const bytes = chunkBytes(chunk);
        if (bytes.length !== count * itemSize) throw new Error(`chunk at ${start}: ${bytes.length} bytes for ${count} elements`);
        got.set(bytes, start * itemSize);
      }),
    );
    const diff = firstDifference(got, target.bytes);
    t.is(diff, -1, `${what}: first wrong byte at ${diff} (element ${Math.floor(diff / itemSize)}), chunks of ${c.chunk}`);
    // The reader falls back to 'bytes' for bool, views and nulls; none of those is the target here.
    t.deepEqual(notRanges, [], `${what}: chunks inside one batch must be byte ranges`);

    if (total > 0) {
      // One more chunk strictly inside a random batch, asked for after all the others.
      const b = r.int(0, starts.length - 1);
      const end = starts[b + 1] ?? total;
      const from = r.int(starts[b]!, end - 1);
      const count = r.int(1, end - from);
      const chunk = await source.chunk(from, count);
      t.is(chunk.kind, 'range', `${what}: elements ${from}..${from + count} of batch ${b}`);
      t.is(firstDifference(chunkBytes(chunk), target.bytes.subarray(from * itemSize, (from + count) * itemSize)), -1, what);
    }
  } finally {
    await source.close();
    rmSync(path, { force: true });
  }
}

testProp(
  'a column after any other columns is located byte for byte, as ranges',
  [fc.oneof(casesWith(Version.V5, upToSix(POOL_NAMES), POOL_NAMES), casesWith(Version.V4, upToSix(POOL_NAMES), POOL_NAMES))],
  checkCase,
  { numRuns: 100 },
);

// Unions are where V4 and V5 count differently (V4 unions keep a validity
// buffer; Arrow C++'s ArrayLoader reads it too), so V4 gets a union every time.
testProp('a column after V4 unions (with their validity buffers) is located byte for byte, as ranges', [casesWith(Version.V4, withAUnion, POOL_NAMES, 1)], checkCase, {
  numRuns: 60,
});

// ---------------------------------------------------------------------------
// toV4 is test machinery; these check that it makes real V4 files.

/** A decoded column's values as text; bigints, binary and nested values included. */
const asText = (values: Iterable<unknown> | null | undefined): string =>
  JSON.stringify([...(values ?? [])], (_, x: unknown) =>
    typeof x === 'bigint' ? `${x}n` : ArrayBuffer.isView(x) ? [...new Uint8Array(x.buffer, x.byteOffset, x.byteLength)] : x instanceof Map ? [...x] : x,
  );

/** Every pool layout once, then a FixedSizeList target, in batches of 128 rows; fresh types each time. */
function everyLayout(rows: number): NamedColumn[] {
  const columns = POOL_NAMES.map((name, i): NamedColumn => {
    const entry = POOL[name]!;
    const type = entry.type();
    return { name, type, column: columnFromArray(poolValues(entry, rows, 0.3, i), type, { maxBatchRows: 128 }) };
  });
  const target = targetColumn('fixedSizeList', 3, rows, 1, 128);
  return [...columns, { name: 'target', type: target.column.type, column: target.column }];
}

for (const format of FORMATS) {
  test(`toV4 turns flechette's ${format} into V4 that flechette decodes to the same values`, (t) => {
    const rows = 300;
    const columns = everyLayout(rows);
    t.true(unionTypeIdBuffers(columns.map((c) => c.type)).length >= 6, 'unions at the top level and nested');
    // flechette's reader honours V4 union validity buffers (decode/table-from-ipc.js), unlike apache-arrow's.
    const v5 = tableFromIPCFlechette(flechetteIpc(columns, format), { useBigInt: true, useDecimalInt: true, useBigIntTimestamp: true });
    const again = everyLayout(rows);
    const v4bytes = toV4(flechetteIpc(again, format), format, again.map((c) => c.type));
    const v4 = tableFromIPCFlechette(v4bytes, { useBigInt: true, useDecimalInt: true, useBigIntTimestamp: true });
    t.is(v5.schema.version, Version.V5);
    t.is(v4.schema.version, Version.V4);
    t.is(RecordBatchReader.from(v4bytes).open().schema.metadataVersion, MetadataVersion.V4, 'apache-arrow sees V4 too');
    t.is(v4.numRows, rows);
    for (const c of columns) t.is(asText(v4.getChild(c.name)?.toArray()), asText(v5.getChild(c.name)?.toArray()), c.name);
  });
}

/*
 * Not the fast path, but found with toV4: apache-arrow 21.2.0 sends unions
 * straight to visitDenseUnion/visitSparseUnion by mode, so the V4 validity
 * skip in VectorLoader.visitUnion never runs and every buffer after a V4
 * union is read one slot early: a bool column came back all false. Columns
 * that must go through apache-arrow's record batches (bool, or any column
 * from a pipe) after a V4 union are therefore refused, with the way out.
 */
test('a bool column after a V4 union is refused rather than misread, from a file and from a pipe', async (t) => {
  const rows = 20;
  const u = POOL['sparseUnion']!;
  const uType = u.type();
  const bools = Array.from({ length: rows }, (_, i) => i % 3 === 0);
  const target = columnFromArray(bools, bool());
  const columns: NamedColumn[] = [
    { name: 'u', type: uType, column: columnFromArray(poolValues(u, rows, 0, 5), uType) },
    { name: 'target', type: target.type, column: target },
  ];
  const dir = tempDir(t, 'smoothl1-layouts-');
  const v4 = join(dir, 'v4.arrows');
  writeFileSync(v4, toV4(flechetteIpc(columns, 'stream'), 'stream', columns.map((c) => c.type)));
  const refused = async (open: Promise<unknown>): Promise<void> => {
    const err = await t.throwsAsync(open, { instanceOf: SmoothL1Error });
    t.regex(err?.reason ?? '', /^column 'target' follows a union in an Arrow format V4 file, .*write the file in format V5/);
  };
  await refused(openArrowPath(v4, 'target'));
  await refused(openArrowStream('<stdin>', Readable.from([readFileSync(v4)], { objectMode: false }), { column: 'target' }));
  // The same table in format V5 reads its own values.
  const v5 = join(dir, 'v5.arrows');
  writeFileSync(v5, flechetteIpc(columns, 'stream'));
  const source = await openArrowPath(v5, 'target');
  try {
    t.deepEqual(chunkBytes(await source.chunk(0, rows)), Uint8Array.from(bools, Number));
  } finally {
    await source.close();
  }
});
