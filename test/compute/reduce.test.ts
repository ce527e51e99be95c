import test from 'ava';
import { fc, testProp } from '@fast-check/ava';
import { roundToDType } from '../../src/tensor/dtype.js';
import { BlockSumFolder, reduceSum } from '../../src/compute/reduce.js';
import { closeToExactSum, FLOAT_DTYPES, fsum, neumaierSum, roundToDTypeRef, sameValue } from '../helpers/reference.js';

function foldInPieces(sums: readonly number[], cuts: readonly number[]): number {
  const folder = new BlockSumFolder();
  const bounds = [...new Set([0, ...cuts.map((c) => c % (sums.length + 1)), sums.length])].sort((x, y) => x - y);
  for (let i = 1; i < bounds.length; i++) folder.add(Float64Array.from(sums.slice(bounds[i - 1], bounds[i])));
  return folder.total();
}

function foldAtOnce(sums: readonly number[]): number {
  const folder = new BlockSumFolder();
  folder.add(Float64Array.from(sums));
  return folder.total();
}

/** Doubles over many binary magnitudes, so that compensation matters to the last bit. */
const spread = (min: number): fc.Arbitrary<number> =>
  fc.tuple(fc.double({ min, max: 1, noNaN: true }), fc.integer({ min: -40, max: 40 })).map(([m, e]) => m * 2 ** e);

/** Block sums as the kernel makes them: >= 0, over many magnitudes. */
const blockSum = fc.oneof({ arbitrary: spread(0), weight: 20 }, { arbitrary: fc.constantFrom(0, 2 ** -1074, 1e300), weight: 1 });

testProp(
  'every way of splitting the same block sums across add() calls gives the same total, bit for bit',
  [fc.array(blockSum, { maxLength: 200, size: 'max' }), fc.array(fc.nat(), { maxLength: 20 })],
  (t, sums, cuts) => {
    t.true(sameValue(foldInPieces(sums, cuts), foldAtOnce(sums)));
  },
  { numRuns: 300 },
);

testProp(
  'splitting does not matter either when some block sums are inf or NaN',
  [fc.array(fc.oneof(blockSum, fc.constantFrom(Infinity, NaN)), { maxLength: 20 }), fc.array(fc.nat(), { maxLength: 5 })],
  (t, sums, cuts) => {
    t.true(sameValue(foldInPieces(sums, cuts), foldAtOnce(sums)));
  },
  { numRuns: 100 },
);

testProp(
  'every chunk size gives the same sum: blocks added a fixed number at a time',
  [fc.array(spread(-1), { maxLength: 300, size: 'max' }), fc.integer({ min: 1, max: 50 })],
  (t, sums, chunk) => {
    const folder = new BlockSumFolder();
    for (let i = 0; i < sums.length; i += chunk) folder.add(Float64Array.from(sums.slice(i, i + chunk)));
    t.true(sameValue(folder.total(), foldAtOnce(sums)));
  },
  { numRuns: 200 },
);

testProp(
  "the total is Neumaier's compensated sum of the block sums in order",
  [fc.array(fc.oneof(spread(-1), fc.double({ noNaN: true, min: -1e300, max: 1e300 })), { maxLength: 200 })],
  (t, sums) => {
    t.true(sameValue(foldAtOnce(sums), neumaierSum(sums)));
  },
  { numRuns: 200 },
);

testProp(
  'the total of non-negative block sums is as close to the exact sum as a compensated sum must be',
  [fc.array(spread(0), { maxLength: 500, size: 'large' })],
  (t, sums) => {
    const total = foldAtOnce(sums);
    t.true(closeToExactSum(total, sums), `${total} vs ${fsum(sums)}`);
  },
  { numRuns: 200 },
);

test('the compensation is carried from one add() to the next', (t) => {
  const folder = new BlockSumFolder();
  folder.add(Float64Array.of(1e16));
  folder.add(Float64Array.of(1));
  folder.add(Float64Array.of(1));
  folder.add(Float64Array.of(-1e16));
  // A plain float64 sum gives 0: 1e16 + 1 rounds back to 1e16.
  t.is(folder.total(), 2);
});

test('infinite and NaN block sums propagate to the total', (t) => {
  t.is(foldAtOnce([1, Infinity, 2]), Infinity);
  t.is(foldAtOnce([Infinity, Infinity]), Infinity);
  t.true(Number.isNaN(foldAtOnce([1, NaN, 2])));
  t.true(Number.isNaN(foldAtOnce([Infinity, NaN])));
  t.true(Number.isNaN(foldAtOnce([Infinity, -Infinity])));
  // Finite block sums whose total overflows: +inf, not the NaN of the compensation.
  t.is(foldAtOnce([1.5e308, 1.5e308]), Infinity);
});

test('an empty fold totals 0; its mean is NaN and its sum is 0 (conformance README)', (t) => {
  const empty = new BlockSumFolder();
  t.is(empty.total(), 0);
  empty.add(new Float64Array(0));
  t.is(empty.total(), 0);
  t.true(Number.isNaN(reduceSum('mean', empty.total(), 0)));
  t.is(reduceSum('sum', empty.total(), 0), 0);
});

testProp(
  'reduceSum: sum is the total, mean is total / n',
  [fc.double({ noNaN: true }), fc.integer({ min: 1, max: 2 ** 40 })],
  (t, total, n) => {
    t.is(reduceSum('sum', total, n), total);
    t.is(reduceSum('mean', total, n), total / n);
  },
  { numRuns: 100 },
);

for (const dtype of FLOAT_DTYPES) {
  testProp(
    `roundToDType rounds to the nearest ${dtype}, once`,
    [fc.double()],
    (t, x) => {
      t.true(sameValue(roundToDType(x, dtype), roundToDTypeRef(x, dtype)));
    },
    { numRuns: 200 },
  );
}

test('roundToDType at known values', (t) => {
  t.is(roundToDType(0.1, 'float64'), 0.1);
  t.is(roundToDType(0.1, 'float32'), 0.10000000149011612);
  t.is(roundToDType(0.1, 'float16'), 0.0999755859375);
  t.is(roundToDType(65520, 'float16'), Infinity);
  t.is(roundToDType(3.4028235677973366e38, 'float32'), Infinity);
  t.true(Object.is(roundToDType(-0, 'float16'), -0));
  t.true(Number.isNaN(roundToDType(NaN, 'float32')));
});
