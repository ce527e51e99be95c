import test, { type ExecutionContext } from 'ava';
import { fc, testProp } from '@fast-check/ava';
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { formatScalar } from '../../src/print/scalar.js';
import type { FloatDType } from '../../src/tensor/tensor.js';
import { halfBitsToNumber, isHalfNaN, roundToDTypeRef, sameValue } from '../helpers/reference.js';

/**
 * (v, dtype, str(np.<dtype>(v))) for a literal v, which NumPy rounds to the
 * dtype before printing, as formatScalar does. The third column is NumPy
 * 2.4.6 under its default print options (no legacy mode), regenerated from
 * the first two by running, from the repository root,
 *   python3 -W ignore -c "import re, numpy as np; [print(f\"  [{v}, '{d}', '{np.dtype(d).type(float(eval(v)))!s}'],\") for v, d in re.findall(r\"^  \[(.+?), '(float\d\d)', '\", open('test/print.test.ts').read(), re.M)]"
 * and pasting its output over the rows. Rows are written in syntax that
 * Python and TypeScript read as the same number.
 */
const NUMPY_STR: readonly (readonly [number, FloatDType, string])[] = [
  [0.1, 'float64', '0.1'],
  [0.3333333333333333, 'float64', '0.3333333333333333'],
  [-2.5, 'float64', '-2.5'],
  [1.0, 'float64', '1.0'],
  [100.0, 'float64', '100.0'],
  [1e-5, 'float64', '1e-05'],
  [0.0001, 'float64', '0.0001'],
  [0.00012345, 'float64', '0.00012345'],
  [123456789.125, 'float64', '123456789.125'],
  [1e15, 'float64', '1000000000000000.0'],
  [9999999999999998.0, 'float64', '9999999999999998.0'],
  [1e16, 'float64', '1e+16'],
  [1.2345e17, 'float64', '1.2345e+17'],
  [5e-324, 'float64', '5e-324'],
  [1.7976931348623157e308, 'float64', '1.7976931348623157e+308'],
  [9007199254740992.0, 'float64', '9007199254740992.0'],
  [1e22, 'float64', '1e+22'],
  [1e23, 'float64', '1e+23'],
  [1.5e-7, 'float64', '1.5e-07'],
  [3.141592653589793, 'float64', '3.141592653589793'],
  [-1e-300, 'float64', '-1e-300'],
  [12345678.9, 'float64', '12345678.9'],
  [0.001, 'float64', '0.001'],
  [2 ** -1022, 'float64', '2.2250738585072014e-308'],
  [2 ** 100, 'float64', '1.2676506002282294e+30'],
  [0.1, 'float32', '0.1'],
  [0.3333333333333333, 'float32', '0.33333334'],
  [-2.5, 'float32', '-2.5'],
  [1.0, 'float32', '1.0'],
  [100.0, 'float32', '100.0'],
  [1e-5, 'float32', '1e-05'],
  [0.00012345, 'float32', '0.00012345'],
  [3.4028234663852886e38, 'float32', '3.4028235e+38'],
  [16777216.0, 'float32', '1.6777216e+07'],
  [65504.0, 'float32', '65504.0'],
  [0.3, 'float32', '0.3'],
  [123456.7, 'float32', '123456.7'],
  [1e15, 'float32', '1e+15'],
  [1e16, 'float32', '1e+16'],
  [2e16, 'float32', '2e+16'],
  [1e20, 'float32', '1e+20'],
  [3.1415927, 'float32', '3.1415927'],
  [-0.00725, 'float32', '-0.00725'],
  [0.2, 'float32', '0.2'],
  [9.999e-5, 'float32', '9.999e-05'],
  [1000.0, 'float32', '1000.0'],
  [999999.0, 'float32', '999999.0'],
  [999999.94, 'float32', '999999.94'],
  [9999999.0, 'float32', '9.999999e+06'],
  [2150000000.0, 'float32', '2.15e+09'],
  [2 ** -149, 'float32', '1e-45'],
  [2 ** -126, 'float32', '1.1754944e-38'],
  [65504.0, 'float16', '6.55e+04'],
  [65519.0, 'float16', '6.55e+04'],
  [65520.0, 'float16', 'inf'],
  [0.1, 'float16', '0.1'],
  [2 ** -24, 'float16', '6e-08'],
  [2 ** -14, 'float16', '6.104e-05'],
  [0.333, 'float16', '0.333'],
  [999.0, 'float16', '999.0'],
  [999.5, 'float16', '999.5'],
  [1234.0, 'float16', '1.234e+03'],
  [2048.0, 'float16', '2.048e+03'],
  [1e-5, 'float16', '1e-05'],
  [0.5, 'float16', '0.5'],
  [-2.5, 'float16', '-2.5'],
  [3.14, 'float16', '3.14'],
  [6.1e-5, 'float16', '6.1e-05'],
  [9.7e-5, 'float16', '9.7e-05'],
  [100.0, 'float16', '100.0'],
  [0.2, 'float16', '0.2'],
  [-0.001, 'float16', '-0.001'],
];

for (const [v, dtype, expected] of NUMPY_STR) {
  test(`formatScalar(${v}, ${dtype}) is '${expected}', as str(np.${dtype}(${v}))`, (t) => {
    t.is(formatScalar(v, dtype), expected);
  });
}

test("non-finite values and zeros print as NumPy's str: nan, inf, -inf, 0.0, -0.0", (t) => {
  // str(np.float16/32/64(v)) for v in (nan, -nan, inf, -inf, 0.0, -0.0): the same in all three.
  for (const dtype of ['float16', 'float32', 'float64'] as const) {
    t.is(formatScalar(NaN, dtype), 'nan');
    t.is(formatScalar(Infinity, dtype), 'inf');
    t.is(formatScalar(-Infinity, dtype), '-inf');
    t.is(formatScalar(0, dtype), '0.0');
    t.is(formatScalar(-0, dtype), '-0.0');
  }
});

// ------------------------------------------------------------------ NumPy fixtures

/** Lines of a gzipped fixture written by fixtures/print/make_print_cases.py (its docstring gives the format). */
function fixtureLines(name: string): string[] {
  const gz = readFileSync(new URL(`../../../fixtures/print/${name}`, import.meta.url));
  return gunzipSync(gz).toString('utf8').split('\n').slice(0, -1);
}

const bitsView = new DataView(new ArrayBuffer(8));

/** The float of a sampled fixture case from its hex IEEE 754 bits, through DataView. */
function valueOfBits(code: string, hex: string): number {
  if (code === 'f4') {
    bitsView.setUint32(0, Number.parseInt(hex, 16), true);
    return bitsView.getFloat32(0, true);
  }
  bitsView.setBigUint64(0, BigInt(`0x${hex}`), true);
  return bitsView.getFloat64(0, true);
}

/** Shows at most the first ten mismatches, so a systematic bug does not flood the log. */
function checkMismatches(t: ExecutionContext, mismatches: readonly string[]): void {
  t.deepEqual(mismatches.slice(0, 10), [], `${mismatches.length} values differ from NumPy`);
}

test('every one of the 65536 float16 bit patterns prints as str(np.float16) does', (t) => {
  const expected = fixtureLines('float16-str.txt.gz');
  t.is(expected.length, 65536);
  const mismatches: string[] = [];
  expected.forEach((numpy, bits) => {
    const text = formatScalar(halfBitsToNumber(bits), 'float16');
    if (text !== numpy) mismatches.push(`0x${bits.toString(16)}: '${text}', NumPy '${numpy}'`);
  });
  checkMismatches(t, mismatches);
});

for (const [code, dtype] of [
  ['f4', 'float32'],
  ['f8', 'float64'],
] as const) {
  test(`sampled ${dtype} values (powers of two, midpoints, ties, thresholds, subnormals, random) print as str(np.${dtype}) does`, (t) => {
    const cases = fixtureLines('float32-float64-str.txt.gz').filter((line) => line.startsWith(`${code} `));
    t.true(cases.length > 4000, `${cases.length} cases`);
    const mismatches: string[] = [];
    for (const line of cases) {
      const [, hex = '', numpy = ''] = line.split(' ');
      const text = formatScalar(valueOfBits(code, hex), dtype);
      if (text !== numpy) mismatches.push(`${hex}: '${text}', NumPy '${numpy}'`);
    }
    checkMismatches(t, mismatches);
  });
}

// ------------------------------------------------------------------ round trip

/** A number the way formatScalar writes one: positional with a point, or d[.ddd]e±XX. */
const NUMBER_SYNTAX = /^(nan|-?inf|-?\d+\.\d+|-?\d(\.\d+)?e[+-]\d{2,3})$/;

/** Text read back as Python's float() reads it. */
const readBack = (text: string): number => (text === 'inf' ? Infinity : text === '-inf' ? -Infinity : Number(text));

function checkRoundTrip(t: ExecutionContext, x: number, dtype: FloatDType): void {
  const text = formatScalar(x, dtype);
  const back = roundToDTypeRef(readBack(text), dtype);
  t.true(NUMBER_SYNTAX.test(text), `'${text}' for ${x}`);
  t.true(sameValue(back, x), `'${text}' reads back as ${back}, not ${x}`);
}

test('every float16 value prints as text that reads back to it', (t) => {
  let checked = 0;
  for (let bits = 0; bits < 65536; bits++) {
    if (isHalfNaN(bits)) continue;
    const x = halfBitsToNumber(bits);
    const text = formatScalar(x, 'float16');
    if (!NUMBER_SYNTAX.test(text) || !sameValue(roundToDTypeRef(readBack(text), 'float16'), x)) {
      t.fail(`0x${bits.toString(16)}: '${text}'`);
      return;
    }
    checked++;
  }
  t.is(checked, 65536 - 2046);
});

testProp(
  'float32 values print as text that reads back to them',
  [fc.float({ noNaN: true })],
  (t, x) => checkRoundTrip(t, x, 'float32'),
  { numRuns: 1000 },
);

testProp(
  'float64 values print as text that reads back to them',
  [fc.double({ noNaN: true })],
  (t, x) => checkRoundTrip(t, x, 'float64'),
  { numRuns: 1000 },
);

/** The significant digits of formatScalar's text, without sign, point, exponent or padding zeros. */
const significantDigits = (s: string): string =>
  s.replace(/e.*$/, '').replace(/[-.]/g, '').replace(/^0+/, '').replace(/0+$/, '');

/**
 * Digits and exponent of the decimal that formatScalar wrote. Its at most
 * nine digits read back exactly through float64, whose shortest repr is
 * then those same digits.
 */
function decimalParts(text: string): { digits: string; exponent: number } {
  const [mantissa = '', exponent = ''] = Math.abs(Number(text)).toExponential().split('e');
  return { digits: mantissa.replace('.', ''), exponent: Number(exponent) };
}

testProp(
  'no decimal with one significant digit fewer reads back to a float32 value',
  [fc.float({ noNaN: true, noDefaultInfinity: true }).filter((x) => x !== 0)],
  (t, x) => {
    const text = formatScalar(x, 'float32');
    const { digits, exponent: leading } = decimalParts(text);
    if (digits.length === 1) {
      t.pass('a single digit has nothing to drop');
      return;
    }
    // The two (n-1)-digit decimals around x are the only candidates: any other is farther on the same side.
    const truncated = BigInt(digits.slice(0, -1));
    const exponent = leading - digits.length + 2;
    for (const c of [truncated, truncated + 1n]) {
      const shorter = roundToDTypeRef(Number(`${c}e${exponent}`), 'float32');
      t.false(sameValue(shorter, Math.abs(x)), `${c}e${exponent} also reads back to ${x}, printed '${text}'`);
    }
  },
  { numRuns: 1000 },
);

testProp(
  'float64 text has the digits of the shortest round-trip repr (those of String(x))',
  [fc.double({ noNaN: true, noDefaultInfinity: true }).filter((x) => x !== 0)],
  (t, x) => {
    // ECMA-262 Number::toString gives the fewest digits that round-trip, nearest to x,
    // as Python's repr does, so it checks formatScalar's own exact search.
    t.is(significantDigits(formatScalar(x, 'float64')), significantDigits(String(x)));
  },
  { numRuns: 1000 },
);

// ------------------------------------------------------------------ former bugs

// These were found by comparing formatScalar with str() of NumPy 2.4.6
// scalars over all float16 values and 300k random float32 values, when it
// used toExponential and chose the notation from the digits: about 1 in 60
// float16 values and 1 in 500 float32 values differed.

test('an exact decimal tie rounds half to even, as NumPy does: np.float16(0.15625) is 0.1562', (t) => {
  // JavaScript's toExponential rounds the tie up, to 0.1563.
  t.is(formatScalar(0.15625, 'float16'), '0.1562');
});

test('an exact decimal tie rounds half to even, as NumPy does: np.float32(343126.125) is 343126.12', (t) => {
  t.is(formatScalar(343126.125, 'float32'), '343126.12');
});

test('at a power of two the shortest digits may lie above x: np.float32(2**-96) is 1.2621775e-29', (t) => {
  // The gap below a power of two is half the gap above, so the nearest
  // 8-digit decimal (below x) does not read back but one above it does.
  t.is(formatScalar(2 ** -96, 'float32'), '1.2621775e-29');
  t.is(formatScalar(2 ** 87, 'float32'), '1.5474251e+26');
});

test('NumPy chooses the notation from the value, not the digits: np.float32(1e-4) is 1e-04', (t) => {
  // np.float32(1e-4) is 9.99999974738e-05 < 1e-4, so NumPy prints it in
  // scientific notation, although its shortest digits are 1e-4;
  // np.float16(1e-4) is 1.0001659e-4 >= 1e-4 and stays positional.
  t.is(formatScalar(Math.fround(1e-4), 'float32'), '1e-04');
  t.is(formatScalar(1e-4, 'float16'), '0.0001');
});

test('NumPy >= 2.3 switches to scientific at 1e3 for float16 and 1e6 for float32, 1e16 for float64', (t) => {
  t.is(formatScalar(1000, 'float16'), '1e+03');
  t.is(formatScalar(1e6, 'float32'), '1e+06');
  t.is(formatScalar(999999, 'float32'), '999999.0');
  t.is(formatScalar(1e16, 'float64'), '1e+16');
  t.is(formatScalar(1e16 - 2, 'float64'), '9999999999999998.0');
});
