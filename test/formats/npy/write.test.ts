import test from 'ava';
import { fc, testProp } from '@fast-check/ava';
import { parse as npyjsParse } from 'npyjs';
import { checkDataLength, parseNpyHeader } from '../../../src/formats/npy/read.js';
import type { ByteSink } from '../../../src/tensor/format.js';
import type { FloatDType } from '../../../src/tensor/tensor.js';
import { npyHeader, npyScalar, openNpyWriter } from '../../../src/formats/npy/write.js';
import { FLOAT_DTYPES, isHalfNaN, ITEM_BYTES, nearestHalfBits, readFloat, roundToDTypeRef, sameValue } from '../../helpers/reference.js';

const headerText = (bytes: Uint8Array): string => {
  const length = new DataView(bytes.buffer, bytes.byteOffset).getUint16(8, true);
  return new TextDecoder('latin1').decode(bytes.subarray(10, 10 + length));
};

// The header dict NumPy 2.4.6 writes, with its padding stripped, from
//   b = io.BytesIO(); np.save(b, np.zeros(shape, dtype, order)); h = b.getvalue()
//   h[10:10 + int.from_bytes(h[8:10], 'little')].decode('latin1').rstrip()
const NUMPY_HEADERS: readonly (readonly [FloatDType, number[], boolean, string])[] = [
  ['float64', [3, 4], false, "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }"],
  ['float32', [], false, "{'descr': '<f4', 'fortran_order': False, 'shape': (), }"],
  ['float16', [7], false, "{'descr': '<f2', 'fortran_order': False, 'shape': (7,), }"],
  ['float32', [2, 3, 4], true, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3, 4), }"],
  ['float64', [0], false, "{'descr': '<f8', 'fortran_order': False, 'shape': (0,), }"],
  ['float64', [1, 2, 3, 4, 5, 6, 7, 8], false, "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 2, 3, 4, 5, 6, 7, 8), }"],
];

for (const [dtype, shape, fortran, text] of NUMPY_HEADERS) {
  test(`npyHeader(${dtype}, (${shape.join(', ')}), fortran ${fortran}) holds the dict NumPy writes`, (t) => {
    const bytes = npyHeader(dtype, shape, fortran);
    t.deepEqual(Array.from(bytes.subarray(0, 8)), [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
    const padded = headerText(bytes);
    t.is(padded.trimEnd(), text);
    t.regex(padded, /^\{.*\} *\n$/);
  });
}

/** Shapes whose byte size the reader accepts (below 2^53). */
const shapeArb = fc.array(fc.integer({ min: 0, max: 1000 }), { maxLength: 5 });

testProp(
  'npyHeader parses back with parseNpyHeader and ends on a 64-byte boundary',
  [fc.constantFrom(...FLOAT_DTYPES), shapeArb, fc.boolean()],
  (t, dtype, shape, fortran) => {
    const bytes = npyHeader(dtype, shape, fortran);
    t.is(bytes.length % 64, 0, 'NEP 1: data starts 64-byte aligned');
    t.is(10 + headerText(bytes).length, bytes.length, 'the stated header length covers the padding');
    const { header, dataOffset } = parseNpyHeader('w.npy', bytes);
    t.is(dataOffset, bytes.length);
    t.is(header.dtype, dtype);
    t.is(header.byteOrder, 'little');
    t.deepEqual(header.shape, shape);
    // parseNpyHeader drops the flag where it changes nothing (at most one axis longer than 1).
    t.is(header.fortranOrder, fortran && shape.filter((d) => d > 1).length > 1);
  },
  { numRuns: 200 },
);

// A header longer than 65535 bytes cannot be stated in version 1.0's two
// length bytes; NumPy then writes version 2.0 (numpy/lib/format.py,
// _wrap_header_guess_version). Only a shape of thousands of axes makes one
// that long (25,000 axes of length 1 need about 75 KB) — more than the 64
// NumPy reads, so the header is checked here as text.
test('npyHeader writes version 2.0 when the header does not fit 1.0', (t) => {
  const shape = Array.from({ length: 25_000 }, () => 1);
  const bytes = npyHeader('float32', shape, false);
  t.deepEqual([...bytes.subarray(0, 8)], [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 2, 0], 'magic, version 2.0');
  const length = new DataView(bytes.buffer).getUint32(8, true);
  t.true(length > 0xffff);
  t.is(12 + length, bytes.length, 'the 4-byte length covers the padding');
  t.is(bytes.length % 64, 0, 'data starts 64-byte aligned');
  const text = new TextDecoder('latin1').decode(bytes.subarray(12));
  t.is(text.trimEnd(), `{'descr': '<f4', 'fortran_order': False, 'shape': (${shape.join(', ')}), }`);
  t.true(text.endsWith(' \n'));
  t.deepEqual([...npyHeader('float32', [3, 4], false).subarray(6, 8)], [1, 0], 'small headers stay version 1.0');
});

/** A scalar .npy read back by hand: header through parseNpyHeader, the element with DataView. */
function readScalar(bytes: Uint8Array): { dtype: string; shape: readonly number[]; value: number; bits: number } {
  const layout = parseNpyHeader('s.npy', bytes);
  checkDataLength(layout, bytes.length);
  const dtype = layout.header.dtype;
  if (dtype !== 'float16' && dtype !== 'float32' && dtype !== 'float64') throw new Error(`not a float: ${dtype}`);
  const data = bytes.subarray(layout.dataOffset);
  const bits = dtype === 'float16' ? new DataView(data.buffer, data.byteOffset).getUint16(0, true) : -1;
  return { dtype, shape: layout.header.shape, value: readFloat(data, dtype, 0), bits };
}

for (const dtype of FLOAT_DTYPES) {
  testProp(
    `write-then-read is the identity for ${dtype} scalars`,
    [fc.double()],
    (t, x) => {
      const v = roundToDTypeRef(x, dtype);
      const back = readScalar(npyScalar(v, dtype));
      t.is(back.dtype, dtype);
      t.deepEqual(back.shape, []);
      if (dtype === 'float16') t.true(Number.isNaN(v) ? isHalfNaN(back.bits) : back.bits === nearestHalfBits(v));
      else t.true(sameValue(back.value, v), `${back.value} vs ${v}`);
    },
    { numRuns: 150 },
  );
}

test('npyScalar files read back with npyjs too (float32 and float64)', (t) => {
  for (const [dtype, value] of [
    ['float64', 0.1],
    ['float32', Math.fround(1 / 3)],
  ] as const) {
    const bytes = npyScalar(value, dtype);
    const parsed = npyjsParse(new Uint8Array(bytes).buffer);
    t.deepEqual(parsed.shape, []);
    t.is(parsed.dtype, dtype === 'float64' ? 'f8' : 'f4');
    if (!(parsed.data instanceof Float64Array || parsed.data instanceof Float32Array)) return t.fail('a float array');
    t.is(parsed.data[0], value);
  }
});

test('npyScalar is exactly header + one element', (t) => {
  for (const dtype of FLOAT_DTYPES) t.is(npyScalar(1, dtype).length, npyHeader(dtype, [], false).length + ITEM_BYTES[dtype]);
});

// ------------------------------------------------------------------ openNpyWriter

interface Recorded {
  readonly sink: ByteSink;
  readonly events: string[];
  readonly bytes: () => Uint8Array;
}

function recordingSink(failWrite = false): Recorded {
  const events: string[] = [];
  const parts: Uint8Array[] = [];
  const sink: ByteSink = {
    write: (bytes) => {
      if (failWrite) return Promise.reject(new Error('disk full'));
      events.push(`write ${bytes.length}`);
      parts.push(bytes.slice());
      return Promise.resolve();
    },
    commit: () => {
      events.push('commit');
      return Promise.resolve();
    },
    abort: () => {
      events.push('abort');
      return Promise.resolve();
    },
  };
  return { sink, events, bytes: () => new Uint8Array(Buffer.concat(parts)) };
}

testProp(
  'openNpyWriter streams header then elements in pieces; the file reads back element for element',
  [fc.constantFrom(...FLOAT_DTYPES), fc.array(fc.double({ noNaN: true }), { maxLength: 30 }), fc.array(fc.nat(), { maxLength: 5 })],
  async (t, dtype, values, cuts) => {
    const rounded = values.map((v) => roundToDTypeRef(v, dtype));
    const size = ITEM_BYTES[dtype];
    const data = new Uint8Array(values.length * size);
    const view = new DataView(data.buffer);
    rounded.forEach((v, i) => {
      if (dtype === 'float64') view.setFloat64(8 * i, v, true);
      else if (dtype === 'float32') view.setFloat32(4 * i, v, true);
      else view.setUint16(2 * i, nearestHalfBits(v), true);
    });
    const { sink, events, bytes } = recordingSink();
    const writer = await openNpyWriter(sink, { path: 'o.npy', dtype: dtype, shape: [values.length], fortranOrder: false });
    const bounds = [...new Set([0, ...cuts.map((c) => c % (values.length + 1)), values.length])].sort((a, b) => a - b);
    for (let i = 1; i < bounds.length; i++) await writer.write(data.subarray(bounds[i - 1]! * size, bounds[i]! * size));
    await writer.finish();
    t.is(events.at(-1), 'commit');
    const file = bytes();
    const layout = parseNpyHeader('o.npy', file);
    t.deepEqual(layout.header.shape, [values.length]);
    t.notThrows(() => checkDataLength(layout, file.length));
    const back = rounded.map((_, i) => readFloat(file.subarray(layout.dataOffset), dtype, i));
    t.true(
      back.every((v, i) => sameValue(v, rounded[i]!)),
      'elements',
    );
  },
  { numRuns: 100 },
);

test('openNpyWriter aborts the sink when the header cannot be written, and rethrows', async (t) => {
  const { sink, events } = recordingSink(true);
  await t.throwsAsync(openNpyWriter(sink, { path: 'o.npy', dtype: 'float32', shape: [2], fortranOrder: false }), { message: 'disk full' });
  t.deepEqual(events, ['abort']);
});

test('a writer abort reaches the sink', async (t) => {
  const { sink, events } = recordingSink();
  const writer = await openNpyWriter(sink, { path: 'o.npy', dtype: 'float64', shape: [1], fortranOrder: false });
  await writer.abort();
  t.is(events.at(-1), 'abort');
  t.false(events.includes('commit'));
});

test('a writer over a file other threads may write places element i by position, i items past the header', async (t) => {
  const { sink } = recordingSink();
  t.is((await openNpyWriter(sink, { path: 'o.npy', dtype: 'float32', shape: [3], fortranOrder: false })).direct, undefined, 'a sink with no file: through write() only');
  // A file sink reports what write() has put there so far: the header, once it is written.
  let written = 0;
  const fileSink: ByteSink = {
    ...sink,
    write: async (bytes) => {
      await sink.write(bytes);
      written += bytes.length;
    },
    get file() {
      return { fd: 42, written };
    },
  };
  const writer = await openNpyWriter(fileSink, { path: 'o.npy', dtype: 'float32', shape: [3], fortranOrder: false });
  const header = npyHeader('float32', [3], false).length;
  t.deepEqual(writer.direct?.spanFrom(0), { path: 'o.npy', fd: 42, position: header });
  t.deepEqual(writer.direct?.spanFrom(2), { path: 'o.npy', fd: 42, position: header + 2 * 4 }, 'element i goes i items past the header');
});
