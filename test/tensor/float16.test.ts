import test from 'ava';
import { fc, testProp } from '@fast-check/ava';
import { float64ToHalfBits, halfTable, roundToHalf } from '../../src/tensor/float16.js';
import { halfBitsToNumber, isHalfNaN, nearestHalfBits, sameValue } from '../helpers/reference.js';

test('halfTable() decodes every one of the 65536 bit patterns as IEEE 754 binary16', (t) => {
  t.is(halfTable().length, 65536);
  let wrong = 0;
  for (let bits = 0; bits < 65536; bits++) {
    if (!sameValue(halfTable()[bits]!, halfBitsToNumber(bits))) wrong++;
  }
  t.is(wrong, 0);
});

test('float64ToHalfBits(halfTable()[bits]) gives back bits for every non-NaN pattern', (t) => {
  const wrong: string[] = [];
  for (let bits = 0; bits < 65536; bits++) {
    if (isHalfNaN(bits)) continue;
    const back = float64ToHalfBits(halfTable()[bits]!);
    if (back !== bits && wrong.length < 5) wrong.push(`0x${bits.toString(16)} -> 0x${back.toString(16)}`);
  }
  t.deepEqual(wrong, []);
});

test('every NaN, whatever its payload or sign, becomes a NaN pattern', (t) => {
  for (let bits = 0; bits < 65536; bits++) {
    if (isHalfNaN(bits)) t.true(isHalfNaN(float64ToHalfBits(halfTable()[bits]!)), `0x${bits.toString(16)}`);
  }
  t.true(isHalfNaN(float64ToHalfBits(NaN)));
});

// Generated once with NumPy 2.4.6, which converts float64 → float16 in one
// correctly rounded step:
//   int(np.array([x], dtype=np.float64).astype(np.float16).view(np.uint16)[0])
const NUMPY_HALF_BITS: readonly (readonly [number, number])[] = [
  [0.0, 0x0000],
  [-0.0, 0x8000],
  [1.0, 0x3c00],
  [-2.0, 0xc000],
  [65504.0, 0x7bff],
  [65519.99999999999, 0x7bff],
  [65520.0, 0x7c00],
  [65536.0, 0x7c00],
  [10000000000.0, 0x7c00],
  [-65520.0, 0xfc00],
  [5.960464477539063e-8, 0x0001],
  [2.9802322387695312e-8, 0x0000],
  [2.980232536792755e-8, 0x0001],
  [8.940696716308594e-8, 0x0002],
  [1.4901161193847656e-7, 0x0002],
  [6.103515625e-5, 0x0400],
  [6.1005353927612305e-5, 0x0400],
  [1.00048828125, 0x3c00],
  [1.00146484375, 0x3c02],
  [1.0004882812509095, 0x3c01],
  [2049.0, 0x6800],
  [2051.0, 0x6802],
  [0.1, 0x2e66],
  [0.3333333333333333, 0x3555],
  [Infinity, 0x7c00],
  [-Infinity, 0xfc00],
  [1e-8, 0x0000],
  [1.4901161193847656e-8, 0x0000],
  [2.9802322388562674e-8, 0x0001],
  [6.1e-5, 0x03ff],
  [3.14159, 0x4248],
];

for (const [x, bits] of NUMPY_HALF_BITS) {
  test(`float64ToHalfBits(${x}) is 0x${bits.toString(16).padStart(4, '0')}, as NumPy converts it`, (t) => {
    t.is(float64ToHalfBits(x), bits);
  });
}

test('the brute-force reference agrees with the NumPy table (the reference is itself checked)', (t) => {
  for (const [x, bits] of NUMPY_HALF_BITS) t.is(nearestHalfBits(x), bits, String(x));
});

testProp(
  'float64ToHalfBits rounds any double to the nearest half, ties to even',
  [fc.double({ noNaN: true })],
  (t, x) => {
    t.is(float64ToHalfBits(x), nearestHalfBits(x));
  },
  { numRuns: 300 },
);

/** Doubles within the binary16 range, where rounding actually happens, with extra weight on exact midpoints. */
const inRange = fc.oneof(
  fc.double({ min: -70000, max: 70000, noNaN: true }),
  fc.double({ min: -(2 ** -13), max: 2 ** -13, noNaN: true }),
  // The midpoint between two adjacent halves, and its immediate neighbours.
  fc
    .tuple(fc.integer({ min: 0, max: 0x7bfe }), fc.constantFrom(-1, 0, 1), fc.boolean())
    .map(([bits, nudge, negative]) => {
      const mid = (halfBitsToNumber(bits) + halfBitsToNumber(bits + 1)) / 2;
      const x = nudge === 0 ? mid : mid + nudge * Number.EPSILON * Math.max(mid, 2 ** -1022);
      return negative ? -x : x;
    }),
);

testProp(
  'float64ToHalfBits rounds values in the half range and midpoints like the reference',
  [inRange],
  (t, x) => {
    t.is(float64ToHalfBits(x), nearestHalfBits(x));
  },
  { numRuns: 300 },
);

testProp(
  'roundToHalf(x) is the value of the nearest half',
  [inRange],
  (t, x) => {
    t.true(sameValue(roundToHalf(x), halfBitsToNumber(nearestHalfBits(x))));
  },
  { numRuns: 200 },
);

testProp(
  'float64ToHalfBits is odd: negating the input flips only the sign bit',
  [fc.double({ noNaN: true })],
  (t, x) => {
    t.is(float64ToHalfBits(-x), float64ToHalfBits(x) ^ 0x8000);
  },
  { numRuns: 200 },
);
