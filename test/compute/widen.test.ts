import test from 'ava';
import { fc, testProp } from '@fast-check/ava';
import { encodeHalf, widenToFloat64 } from '../../src/compute/widen.js';
import type { DType } from '../../src/tensor/tensor.js';
import {
  DTYPES,
  elementArb,
  isHalfNaN,
  ITEM_BYTES,
  nearestHalfBits,
  sameValue,
  writeElements,
  type Element,
} from '../helpers/reference.js';

/** Elements start `pad` items into a larger buffer, as a chunk view may. */
function placed(dtype: DType, elements: readonly Element[], pad: number): Uint8Array {
  const size = ITEM_BYTES[dtype];
  const backing = new Uint8Array((pad + elements.length + 1) * size).fill(0xa5);
  const bytes = backing.subarray(pad * size, (pad + elements.length) * size);
  writeElements(dtype, elements, bytes);
  return bytes;
}

/** The first n elements widened into a fresh array with two sentinels after them. */
function readRun(bytes: Uint8Array, dtype: DType, n: number): number[] {
  const dst = new Float64Array(n + 2).fill(-1);
  widenToFloat64(bytes, dtype, n, dst);
  return Array.from(dst);
}

for (const dtype of DTYPES) {
  testProp(
    `widenToFloat64(${dtype}) gives each element's value as float64, from any aligned offset`,
    [fc.array(elementArb(dtype), { minLength: 1, maxLength: 40 }), fc.nat({ max: 3 }), fc.nat()],
    (t, elements, pad, m) => {
      const n = m % (elements.length + 1);
      const got = readRun(placed(dtype, elements, pad), dtype, n);
      // It writes n values from dst[0] and leaves the rest of dst alone.
      const want = [...elements.slice(0, n).map((e) => e.value), -1, -1];
      t.true(
        got.length === want.length && got.every((v, i) => sameValue(v, want[i]!)),
        `${JSON.stringify(got.map(String))} vs ${JSON.stringify(want.map(String))}`,
      );
    },
    { numRuns: 100 },
  );

  testProp(
    `widenToFloat64(${dtype}) works in place, from raw bytes at the end of the float64 array`,
    [fc.array(elementArb(dtype), { minLength: 0, maxLength: 40 })],
    (t, elements) => {
      const n = elements.length;
      const dst = new Float64Array(n);
      const raw = new Uint8Array(dst.buffer, 8 * n - n * ITEM_BYTES[dtype]);
      writeElements(dtype, elements, raw);
      widenToFloat64(raw, dtype, n, dst);
      t.true(Array.from(dst).every((v, i) => sameValue(v, elements[i]!.value)));
    },
    { numRuns: 50 },
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
    t.deepEqual(readRun(placed(dtype, elements, 1), dtype, elements.length), [...elements.map((e) => e.value), -1, -1]);
  });
}

testProp(
  'int64 and uint64 near powers of two convert correctly rounded',
  [fc.boolean(), fc.integer({ min: 53, max: 63 }), fc.bigInt({ min: -4096n, max: 4096n })],
  (t, signed, e, nudge) => {
    const v = signed ? 2n ** BigInt(e) * (nudge < 0n ? -1n : 1n) + nudge : 2n ** BigInt(e) + nudge;
    const dtype = signed ? 'int64' : 'uint64';
    fc.pre(signed ? v >= -(2n ** 63n) && v < 2n ** 63n : v >= 0n && v < 2n ** 64n);
    const got = readRun(placed(dtype, [{ stored: v, value: Number(v) }], 0), dtype, 1);
    t.is(got[0], Number(v));
  },
  { numRuns: 200 },
);

test('bool reads as 0 and 1', (t) => {
  const bytes = Uint8Array.of(0, 1, 1, 0);
  t.deepEqual(readRun(bytes, 'bool', 4), [0, 1, 1, 0, -1, -1]);
});

test('float16 reads subnormals, infinities and NaN', (t) => {
  const bits = Uint16Array.of(0x0001, 0x03ff, 0x7c00, 0xfc00, 0x8000, 0x7e00, 0x3c00);
  const got = readRun(new Uint8Array(bits.buffer), 'float16', bits.length);
  t.deepEqual(got.slice(0, 5), [2 ** -24, 1023 * 2 ** -24, Infinity, -Infinity, -0]);
  t.true(Number.isNaN(got[5]));
  t.is(got[6], 1);
});

testProp(
  'encodeHalf rounds float64 losses once to the nearest binary16, ties to even',
  [fc.array(fc.double(), { minLength: 0, maxLength: 40 })],
  (t, values) => {
    const dst = new Uint16Array(values.length + 1).fill(0x5a5a);
    encodeHalf(Float64Array.from(values), dst.subarray(0, values.length));
    values.forEach((x, i) => t.true(Number.isNaN(x) ? isHalfNaN(dst[i]!) : dst[i] === nearestHalfBits(x), `element ${i}`));
    t.is(dst[values.length], 0x5a5a, 'nothing written past the output');
  },
  { numRuns: 200 },
);
