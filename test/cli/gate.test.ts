import test from 'ava';
import { limitIn, passesGate } from '../../src/cli/gate.js';
import type { FloatDType } from '../../src/tensor/tensor.js';

// A CI gate must never let through a loss that is above the limit because of
// how the limit was rounded: above all, an infinite loss (a float16 or
// float32 sum that overflowed) must fail any finite limit, even one beyond
// the dtype's range, which rounds to infinity.

const MAX: Readonly<Record<FloatDType, number>> = { float16: 65504, float32: 3.4028234663852886e38, float64: Number.MAX_VALUE };
/** The smallest limit that rounds to infinity in each dtype: the midpoint past the largest finite value. */
const OVERFLOW: Readonly<Record<FloatDType, number>> = { float16: 65520, float32: 3.4028235677973366e38, float64: Number.MAX_VALUE };

for (const dtype of ['float16', 'float32', 'float64'] as const) {
  test(`${dtype}: an infinite loss fails every finite limit, up to the largest a decimal can name`, (t) => {
    for (const limit of [0, 1, MAX[dtype], OVERFLOW[dtype], 1e300, Number.MAX_VALUE]) {
      t.false(passesGate(Infinity, dtype, limit), `limit ${limit}`);
    }
  });

  test(`${dtype}: the largest finite loss passes a limit equal to it or beyond the range, fails one below`, (t) => {
    t.true(passesGate(MAX[dtype], dtype, MAX[dtype]));
    t.true(passesGate(MAX[dtype], dtype, OVERFLOW[dtype]));
    t.true(passesGate(MAX[dtype], dtype, Number.MAX_VALUE));
    t.false(passesGate(MAX[dtype], dtype, MAX[dtype] / 2));
    t.is(limitIn(dtype, OVERFLOW[dtype]), MAX[dtype], 'a limit past the range is the largest finite value');
    t.is(limitIn(dtype, -OVERFLOW[dtype]), -MAX[dtype]);
  });

  test(`${dtype}: NaN fails; zero passes zero; a negative limit fails every loss`, (t) => {
    t.false(passesGate(NaN, dtype, MAX[dtype]));
    t.true(passesGate(0, dtype, 0));
    t.false(passesGate(0, dtype, -1));
    t.false(passesGate(0, dtype, -OVERFLOW[dtype]));
  });
}

test('the limit is read as the loss is rounded: the printed value of a loss passes as its own limit', (t) => {
  // float32(0.1) is 0.100000001490116…, above the decimal 0.1, and prints as 0.1.
  t.true(passesGate(Math.fround(0.1), 'float32', 0.1));
  t.false(passesGate(Math.fround(0.1), 'float64', 0.1), 'as float64 the same value is above 0.1');
  // The smallest float16 subnormal (2^-24) rounds a limit of 2e-8 to zero: it is above it.
  t.false(passesGate(2 ** -24, 'float16', 2e-8));
  t.true(passesGate(2 ** -24, 'float16', 4e-8));
});
