import test from 'ava';
import { fc, testProp } from '@fast-check/ava';
import { float64Reader, lossWriter, type Float64Reader } from '../src/decode.js';
import type { DType } from '../src/tensor.js';
import {
  DTYPES,
  elementArb,
  FLOAT_DTYPES,
  isHalfNaN,
  ITEM_BYTES,
  nearestHalfBits,
  readFloat,
  roundToFloat32Ref,
  sameValue,
  writeElements,
  type Element,
} from './helpers/reference.js';

/** Elements start `pad` items into a larger buffer, as a chunk view may. */
function placed(dtype: DType, elements: readonly Element[], pad: number): Uint8Array {
  const size = ITEM_BYTES[dtype];
  const backing = new Uint8Array((pad + elements.length + 1) * size).fill(0xa5);
  const bytes = backing.subarray(pad * size, (pad + elements.length) * size);
  writeElements(dtype, elements, bytes);
  return bytes;
}

/** Elements [start, start+n) through the reader's interface, however it offers them. */
function readRun(reader: Float64Reader, start: number, n: number): number[] {
  if (reader.direct !== null) return Array.from(reader.direct.subarray(start, start + n));
  const dst = new Float64Array(n + 2).fill(-1);
  reader.decode(start, n, dst);
  return Array.from(dst);
}

for (const dtype of DTYPES) {
  testProp(
    `float64Reader(${dtype}) gives each element's value as float64, read at any offset`,
    [fc.array(elementArb(dtype), { minLength: 1, maxLength: 40 }), fc.nat({ max: 3 }), fc.nat(), fc.nat()],
    (t, elements, pad, s, m) => {
      const reader = float64Reader(placed(dtype, elements, pad), dtype);
      t.is(reader.direct !== null, dtype === 'float64', 'only float64 is read in place');
      const start = s % elements.length;
      const n = m % (elements.length - start + 1);
      const got = readRun(reader, start, n);
      const want = elements.slice(start, start + n).map((e) => e.value);
      // decode() writes n values from dst[0] and leaves the rest of dst alone.
      if (reader.direct === null) want.push(-1, -1);
      t.true(
        got.length === want.length && got.every((v, i) => sameValue(v, want[i]!)),
        `${JSON.stringify(got.map(String))} vs ${JSON.stringify(want.map(String))}`,
      );
    },
    { numRuns: 100 },
  );
}

// Values where a 64-bit integer does not fit a double, and the words' signs
// matter: each against Number(BigInt), which is correctly rounded, ties to even.
const INT64_EDGES: readonly bigint[] = [
  0n,
  1n,
  -1n,
  2n ** 31n,
  2n ** 32n - 1n,
  2n ** 32n,
  -(2n ** 32n),
  2n ** 53n,
  2n ** 53n + 1n,
  2n ** 53n + 3n,
  -(2n ** 53n) - 1n,
  -(2n ** 53n) - 3n,
  2n ** 62n + 2n ** 31n + 1n,
  2n ** 63n - 1n,
  -(2n ** 63n),
  -(2n ** 63n) + 1n,
  0x7fff_ffff_8000_0000n,
  -0x7fff_ffff_8000_0000n,
];
const UINT64_EDGES: readonly bigint[] = [0n, 1n, 2n ** 32n - 1n, 2n ** 53n + 1n, 2n ** 63n, 2n ** 63n + 1n, 2n ** 64n - 1n, 0xffff_ffff_0000_0000n, 0x8000_0000_ffff_ffffn];

for (const [dtype, edges] of [
  ['int64', INT64_EDGES],
  ['uint64', UINT64_EDGES],
] as const) {
  test(`${dtype} edge values convert correctly rounded, as Number(BigInt)`, (t) => {
    const elements = edges.map((v) => ({ stored: v, value: Number(v) }));
    t.deepEqual(readRun(float64Reader(placed(dtype, elements, 1), dtype), 0, elements.length), [...elements.map((e) => e.value), -1, -1]);
  });
}

testProp(
  'int64 and uint64 near powers of two convert correctly rounded',
  [fc.boolean(), fc.integer({ min: 53, max: 63 }), fc.bigInt({ min: -4096n, max: 4096n })],
  (t, signed, e, nudge) => {
    const v = signed ? 2n ** BigInt(e) * (nudge < 0n ? -1n : 1n) + nudge : 2n ** BigInt(e) + nudge;
    const dtype = signed ? 'int64' : 'uint64';
    fc.pre(signed ? v >= -(2n ** 63n) && v < 2n ** 63n : v >= 0n && v < 2n ** 64n);
    const got = readRun(float64Reader(placed(dtype, [{ stored: v, value: Number(v) }], 0), dtype), 0, 1);
    t.is(got[0], Number(v));
  },
  { numRuns: 200 },
);

test('bool reads as 0 and 1', (t) => {
  const bytes = Uint8Array.of(0, 1, 1, 0);
  t.deepEqual(readRun(float64Reader(bytes, 'bool'), 0, 4), [0, 1, 1, 0, -1, -1]);
});

test('float16 reads subnormals, infinities and NaN', (t) => {
  const bits = Uint16Array.of(0x0001, 0x03ff, 0x7c00, 0xfc00, 0x8000, 0x7e00, 0x3c00);
  const got = readRun(float64Reader(new Uint8Array(bits.buffer), 'float16'), 0, bits.length);
  t.deepEqual(got.slice(0, 5), [2 ** -24, 1023 * 2 ** -24, Infinity, -Infinity, -0]);
  t.true(Number.isNaN(got[5]));
  t.is(got[6], 1);
});

testProp(
  'lossWriter encodes float64 losses into each float dtype, rounded once to nearest',
  [fc.constantFrom(...FLOAT_DTYPES), fc.array(fc.double(), { minLength: 1, maxLength: 40 }), fc.nat(), fc.nat()],
  (t, dtype, values, s, m) => {
    const size = ITEM_BYTES[dtype];
    const backing = new Uint8Array((values.length + 2) * size).fill(0x5a);
    const bytes = backing.subarray(size, (values.length + 1) * size);
    const writer = lossWriter(bytes, dtype);
    const start = s % values.length;
    const n = m % (values.length - start + 1);
    const src = Float64Array.from(values.slice(start, start + n));
    if (writer.direct !== null) writer.direct.set(src, start);
    else writer.encode(start, n, src);
    t.is(writer.direct !== null, dtype === 'float64', 'only float64 is written in place');
    for (let i = 0; i < values.length; i++) {
      const at = bytes.subarray(i * size, (i + 1) * size);
      if (i < start || i >= start + n) {
        t.true(
          at.every((b) => b === 0x5a),
          `element ${i} is outside the run and untouched`,
        );
        continue;
      }
      const x = values[i]!;
      if (dtype === 'float16') {
        const bits = new DataView(at.buffer, at.byteOffset).getUint16(0, true);
        t.true(Number.isNaN(x) ? isHalfNaN(bits) : bits === nearestHalfBits(x), `element ${i}`);
      } else {
        const want = dtype === 'float32' ? roundToFloat32Ref(x) : x;
        t.true(sameValue(readFloat(bytes, dtype, i), want), `element ${i}`);
      }
    }
    t.true(
      backing.subarray(0, size).every((b) => b === 0x5a) && backing.subarray(backing.length - size).every((b) => b === 0x5a),
      'nothing written outside the view',
    );
  },
  { numRuns: 200 },
);
