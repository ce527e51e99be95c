import type { promises as fsp } from 'node:fs';
import { dataLonger, dataLongerThan, dataShorter, shapeTooLarge, SmoothL1Error, unsupportedDescr } from '../../tensor/errors.js';
import { ITEM_SIZE } from '../../tensor/dtype.js';
import { parsePyLiteral, PyLiteralError, type PyValue } from './py-literal.js';
import type { ByteStream } from '../../tensor/format.js';
import { elementCount, type ByteOrder, type DType, type TensorHeader, type TensorSource } from '../../tensor/tensor.js';

/** The six bytes every .npy file starts with. */
export const NPY_MAGIC = Uint8Array.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]);

export const hasNpyMagic = (bytes: Uint8Array): boolean =>
  bytes.length >= NPY_MAGIC.length && NPY_MAGIC.every((b, i) => bytes[i] === b);

export interface NpyLayout {
  readonly header: TensorHeader;
  /** Byte offset of the first element. */
  readonly dataOffset: number;
}

/**
 * Bytes needed before the header text can be parsed: the whole preamble
 * and header. Returns undefined when `prefix` is too short to know yet.
 */
export function npyHeaderEnd(file: string, prefix: Uint8Array): number | undefined {
  if (!hasNpyMagic(prefix)) throw new SmoothL1Error('not-a-tensor', file, 'not an .npy file (bad magic bytes)');
  if (prefix.length < 12) return undefined;
  const view = new DataView(prefix.buffer, prefix.byteOffset, prefix.byteLength);
  const major = view.getUint8(6);
  const minor = view.getUint8(7);
  if (minor !== 0 || major < 1 || major > 3) throw new SmoothL1Error('unsupported', file, `unsupported .npy format version ${major}.${minor}`);
  // Version 1.0 has a 2-byte header length; 2.0 and 3.0 a 4-byte one (NEP 1, "Format Version 2.0").
  return major === 1 ? 10 + view.getUint16(8, true) : 12 + view.getUint32(8, true);
}

const HEADER_KEYS: readonly string[] = ['descr', 'fortran_order', 'shape'];

/** Parses the preamble and header dict of an .npy whose first bytes (at least npyHeaderEnd) are `bytes`. */
export function parseNpyHeader(file: string, bytes: Uint8Array): NpyLayout {
  const end = npyHeaderEnd(file, bytes);
  if (end === undefined || bytes.length < end) throw new SmoothL1Error('bad-header', file, 'file ends inside the .npy header');
  const major = bytes[6]!;
  const textStart = major === 1 ? 10 : 12;
  // Version 3.0 allows UTF-8 in the header; 1.0 and 2.0 are latin-1.
  const text = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(textStart, end));
  let dict: PyValue;
  try {
    dict = parsePyLiteral(text);
  } catch (err) {
    if (err instanceof PyLiteralError) throw new SmoothL1Error('bad-header', file, `malformed .npy header: ${err.message}`);
    throw err;
  }
  if (dict === null || typeof dict !== 'object' || Array.isArray(dict)) {
    throw new SmoothL1Error('bad-header', file, 'malformed .npy header: not a dict');
  }
  // NumPy's own reader demands exactly these keys, so we accept no more and no fewer.
  const missing = HEADER_KEYS.find((k) => !Object.hasOwn(dict, k));
  if (missing !== undefined) throw new SmoothL1Error('bad-header', file, `malformed .npy header: no '${missing}' key`);
  const extra = Object.keys(dict).find((k) => !HEADER_KEYS.includes(k));
  if (extra !== undefined) throw new SmoothL1Error('bad-header', file, `malformed .npy header: unexpected key '${extra}'`);
  const { descr = null, fortran_order: fortranOrder, shape } = dict;
  if (typeof fortranOrder !== 'boolean') throw new SmoothL1Error('bad-header', file, "malformed .npy header: 'fortran_order' must be True or False");
  const dims = parseShape(file, shape);
  const { dtype, byteOrder } = parseDescr(file, descr);
  // With at most one axis longer than 1, both orders lay the elements out the same way.
  const fortran = fortranOrder && dims.filter((d) => d > 1).length > 1;
  return { header: { file, dtype, byteOrder, shape: dims, fortranOrder: fortran }, dataOffset: end };
}

/** NumPy's NPY_MAXDIMS (numpy/_core/include/numpy/ndarraytypes.h): np.load refuses more axes. */
export const MAX_DIMS = 64;

function parseShape(file: string, shape: PyValue | undefined): number[] {
  if (!Array.isArray(shape)) throw new SmoothL1Error('bad-header', file, "malformed .npy header: 'shape' must be a tuple");
  if (shape.length > MAX_DIMS) {
    throw new SmoothL1Error('unsupported', file, `${shape.length} dimensions; NumPy arrays have at most ${MAX_DIMS}`);
  }
  const dims = shape.map((d) => {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) {
      throw new SmoothL1Error('bad-header', file, `malformed .npy header: bad dimension ${JSON.stringify(d)} in 'shape'`);
    }
    return d;
  });
  if (!Number.isSafeInteger(elementCount(dims) * 8)) throw shapeTooLarge(file);
  return dims;
}

const KINDS: Readonly<Record<string, Readonly<Record<number, DType>>>> = {
  b: { 1: 'bool' },
  i: { 1: 'int8', 2: 'int16', 4: 'int32', 8: 'int64' },
  u: { 1: 'uint8', 2: 'uint16', 4: 'uint32', 8: 'uint64' },
  f: { 2: 'float16', 4: 'float32', 8: 'float64' },
};

const UNSUPPORTED_KINDS: Readonly<Record<string, string>> = {
  c: 'complex',
  U: 'string',
  S: 'string',
  a: 'string',
  O: 'object',
  V: 'structured',
  M: 'datetime',
  m: 'timedelta',
};

/** A NumPy dtype string such as '<f4', '>i8' or '|b1'. */
export function parseDescr(file: string, descr: PyValue): { dtype: DType; byteOrder: ByteOrder } {
  if (Array.isArray(descr)) throw unsupportedDescr(file, 'record', 'structured');
  if (typeof descr !== 'string') throw new SmoothL1Error('bad-header', file, "malformed .npy header: 'descr' must be a string");
  const m = /^([<>|=]?)([a-zA-Z])(\d*)/.exec(descr);
  if (m === null) throw new SmoothL1Error('bad-header', file, `malformed .npy header: unknown dtype '${descr}'`);
  const [, order = '', kind = '', size = ''] = m;
  const unsupported = UNSUPPORTED_KINDS[kind];
  if (unsupported !== undefined) throw unsupportedDescr(file, descr, unsupported);
  const dtype = KINDS[kind]?.[Number(size)];
  if (dtype === undefined || m[0] !== descr) throw unsupportedDescr(file, descr, 'this');
  // '=' is native order; .npy writers use it only where order is irrelevant, and every platform we run on is little-endian.
  return { dtype, byteOrder: order === '>' ? 'big' : 'little' };
}

/** Checks that the data after the header is exactly as long as the header promises. */
export function checkDataLength(layout: NpyLayout, fileSize: number): void {
  const { header, dataOffset } = layout;
  const expected = elementCount(header.shape) * ITEM_SIZE[header.dtype];
  const found = fileSize - dataOffset;
  if (found < expected) throw dataShorter(header.file, expected, found);
  if (found > expected) throw dataLonger(header.file, expected, found);
}

/** An .npy file on a seekable handle: chunks are byte ranges that workers read themselves. */
export function npyFileSource(layout: NpyLayout, handle: fsp.FileHandle): TensorSource {
  const itemSize = ITEM_SIZE[layout.header.dtype];
  return {
    header: layout.header,
    rangeChunkElements: Infinity,
    chunk: (start, count) =>
      Promise.resolve({
        kind: 'range',
        fd: handle.fd,
        pieces: [{ position: layout.dataOffset + start * itemSize, byteLength: count * itemSize }],
        byteLength: count * itemSize,
      }),
    close: () => handle.close(),
  };
}

/**
 * An .npy arriving on a stream (stdin): chunks are read in order into
 * buffers of their own. The data's length is checked as it arrives: short
 * data fails the chunk that misses it, extra data fails the last chunk.
 */
export function npyStreamSource(layout: NpyLayout, reader: ByteStream): TensorSource {
  const { header } = layout;
  const itemSize = ITEM_SIZE[header.dtype];
  const total = elementCount(header.shape) * itemSize;
  return {
    header,
    async chunk(start, count) {
      const bytes = await reader.read(count * itemSize);
      const end = start * itemSize + bytes.length;
      if (bytes.length < count * itemSize) throw dataShorter(header.file, total, end);
      if (end === total && (await reader.read(1)).length > 0) throw dataLongerThan(header.file, total);
      return { kind: 'bytes', buffer: bytes.buffer, byteOffset: 0, byteLength: bytes.length };
    },
    close: () => reader.close(),
  };
}
