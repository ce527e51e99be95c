import test from 'ava';
import { fc, testProp } from '@fast-check/ava';
import { specBlockSum, compensated, finishLanes, huberElement, LANES, RUN_ELEMENTS, smoothL1Element, type LossParams } from '../../src/compute/loss-spec.js';
import { closeToExactSum, fsum, PARTIAL_ERROR, huberRef, lossRef, neumaierParts, neumaierSum, sameValue, smoothL1Ref } from '../helpers/reference.js';

/** Loss of one pair of elements. */
function loss1(a: number, b: number, params: LossParams): number {
  const z = new Float64Array(1);
  specBlockSum(Float64Array.of(a), 0, Float64Array.of(b), 0, 1, params, z, 0);
  return z[0]!;
}

/** Element losses and the returned sum for whole arrays. */
function lossAll(a: readonly number[], b: readonly number[], params: LossParams): { z: Float64Array; sum: number } {
  const z = new Float64Array(a.length);
  const sum = specBlockSum(Float64Array.from(a), 0, Float64Array.from(b), 0, a.length, params, z, 0);
  return { z, sum };
}

const delta = fc.oneof(fc.constantFrom(1, 0.5, 2, 1e-3, 1e3), fc.double({ min: 2 ** -30, max: 2 ** 30, noNaN: true }));
const params = fc.record({ delta, huber: fc.boolean() });
/** Finite doubles of moderate size, where no intermediate overflows or underflows. */
const moderate = fc.double({ min: -1e6, max: 1e6, noNaN: true });

testProp(
  'the Huber element loss is bit-equal to 0.5*d*d or delta*(|d|-0.5*delta) in float64',
  [fc.double(), fc.double(), delta],
  (t, a, b, d) => {
    t.true(sameValue(loss1(a, b, { delta: d, huber: true }), huberRef(a, b, d)));
  },
  { numRuns: 300 },
);

testProp(
  'the --no-huber element loss is bit-equal to the Huber formula divided by delta',
  [fc.double(), fc.double(), delta],
  (t, a, b, d) => {
    t.true(sameValue(loss1(a, b, { delta: d, huber: false }), smoothL1Ref(a, b, d)));
  },
  { numRuns: 300 },
);

testProp(
  'loss is >= 0 for any inputs that are not NaN',
  [fc.double({ noNaN: true }), fc.double({ noNaN: true }), params],
  (t, a, b, p) => {
    const z = loss1(a, b, p);
    // inf - inf is NaN: the only way to get NaN without a NaN input.
    if (a === b && !Number.isFinite(a)) t.true(Number.isNaN(z));
    else t.true(z >= 0, String(z));
  },
  { numRuns: 300 },
);

testProp(
  'loss is exactly 0 when both inputs are equal (and finite)',
  [fc.double({ noNaN: true, noDefaultInfinity: true }), params],
  (t, a, p) => {
    t.is(loss1(a, a, p), 0);
  },
  { numRuns: 200 },
);

testProp(
  'loss is > 0 when the inputs differ by more than the float64 underflow threshold',
  [moderate, moderate, params],
  (t, a, b, p) => {
    // 0.5*d*d/delta underflows to 0 for |d| below about 2^-500 here; keep away from that.
    fc.pre(Math.abs(a - b) >= 2 ** -480);
    t.true(loss1(a, b, p) > 0);
  },
  { numRuns: 200 },
);

testProp(
  'loss is symmetric in its two inputs, bit for bit',
  [fc.double(), fc.double(), params],
  (t, a, b, p) => {
    t.true(sameValue(loss1(a, b, p), loss1(b, a, p)));
  },
  { numRuns: 300 },
);

testProp(
  'below delta the loss is quadratic: halving d divides it by exactly 4',
  [fc.double({ min: 2 ** -400, max: 1, noNaN: true }), fc.boolean(), params],
  (t, fraction, negative, p) => {
    const d = (negative ? -fraction : fraction) * p.delta * 0.999;
    fc.pre(Math.abs(d) < p.delta && Math.abs(d) >= 2 ** -400);
    const z = loss1(d, 0, p);
    t.is(loss1(d / 2, 0, p) * 4, z);
    t.is(z, p.huber ? 0.5 * d * d : (0.5 * d * d) / p.delta);
  },
  { numRuns: 200 },
);

testProp(
  'above delta the loss is linear in |d| with slope delta (Huber) or 1 (--no-huber)',
  [fc.double({ min: 1, max: 1e6, noNaN: true }), fc.double({ min: 1, max: 1e6, noNaN: true }), params],
  (t, k1, k2, p) => {
    const d1 = k1 * p.delta;
    const d2 = -k2 * p.delta;
    const z1 = loss1(d1, 0, p);
    const z2 = loss1(d2, 0, p);
    const slope = p.huber ? p.delta : 1;
    const predicted = z1 + slope * (Math.abs(d2) - Math.abs(d1));
    // Each of z1, z2 and the prediction carries a few roundings of its largest term.
    const tolerance = 8 * Number.EPSILON * Math.max(z1, z2, slope * Math.abs(d1), slope * Math.abs(d2));
    t.true(Math.abs(z2 - predicted) <= tolerance, `${z2} vs ${predicted}`);
  },
  { numRuns: 200 },
);

testProp(
  'the loss is continuous at |d| = delta: both branches meet at 0.5*delta^2 (or 0.5*delta)',
  [delta, fc.boolean()],
  (t, d, huber) => {
    const p = { delta: d, huber };
    const atDelta = loss1(d, 0, p);
    const meet = huber ? 0.5 * d * d : 0.5 * d;
    t.is(atDelta, meet, 'the linear branch at |d| = delta');
    // The largest double below delta is on the quadratic branch.
    const below = d * (1 - Number.EPSILON / 2);
    t.true(below < d);
    const justBelow = loss1(below, 0, p);
    t.true(justBelow <= atDelta);
    t.true(atDelta - justBelow <= 4 * Number.EPSILON * meet, `${justBelow} vs ${atDelta}`);
    t.is(loss1(-d, 0, p), atDelta);
  },
  { numRuns: 200 },
);

testProp(
  'the loss does not decrease as |d| grows',
  [fc.double({ noNaN: true, noDefaultInfinity: true }), fc.double({ noNaN: true, noDefaultInfinity: true }), params],
  (t, x, y, p) => {
    const [small, large] = Math.abs(x) <= Math.abs(y) ? [x, y] : [y, x];
    t.true(loss1(small, 0, p) <= loss1(large, 0, p));
  },
  { numRuns: 200 },
);

test('NaN and infinities propagate through the element loss', (t) => {
  for (const huber of [true, false]) {
    const p = { delta: 1, huber };
    t.true(Number.isNaN(loss1(NaN, 0, p)));
    t.true(Number.isNaN(loss1(0, NaN, p)));
    t.true(Number.isNaN(loss1(NaN, NaN, p)));
    t.is(loss1(Infinity, 0, p), Infinity);
    t.is(loss1(-Infinity, 5, p), Infinity);
    t.is(loss1(3, Infinity, p), Infinity);
    t.is(loss1(Infinity, -Infinity, p), Infinity);
    t.true(Number.isNaN(loss1(Infinity, Infinity, p)));
    // The difference of two finite doubles can overflow.
    t.is(loss1(Number.MAX_VALUE, -Number.MAX_VALUE, p), Infinity);
  }
});

test('NaN and infinities propagate through the block sum', (t) => {
  for (const huber of [true, false]) {
    const p = { delta: 1, huber };
    t.true(Number.isNaN(lossAll([1, NaN, 2], [0, 0, 0], p).sum));
    t.is(lossAll([1, Infinity, 2], [0, 0, 0], p).sum, Infinity);
    t.true(Number.isNaN(lossAll([Infinity, NaN], [0, 0], p).sum));
    t.true(Number.isNaN(lossAll([NaN, Infinity], [0, 0], p).sum));
    // Finite losses whose sum overflows give +inf, not NaN from the compensation.
    t.is(lossAll([1e308, 1e308, 1e308], [-1e308, -1e308, -1e308], p).sum, Infinity);
  }
});

/**
 * The summation order kernel.ts documents (and the WebAssembly kernel
 * follows): element i goes to lane i % LANES; each lane adds its elements of
 * a run of RUN_ELEMENTS left to right, plainly; the lane's partials form a
 * Neumaier sum; and the lanes are folded in order, the fold's rounding errors
 * and the lanes' compensations added once at the end.
 */
function laneSum(z: ArrayLike<number>): number {
  const lanes = Array.from({ length: LANES }, (_, lane) => {
    const partials: number[] = [];
    for (let run = 0; run < z.length; run += RUN_ELEMENTS) {
      let p = 0;
      for (let i = run + lane; i < Math.min(run + RUN_ELEMENTS, z.length); i += LANES) p += z[i]!;
      partials.push(p);
    }
    return partials;
  });
  return foldLanes(lanes.map(neumaierParts));
}

/** Lanes folded in order; each fold's exact rounding error and each lane's compensation gathered and added once. */
function foldLanes(parts: readonly { readonly s: number; readonly c: number }[]): number {
  let s = parts[0]!.s;
  let c = parts[0]!.c;
  for (const part of parts.slice(1)) {
    const t = s + part.s;
    c += part.c + (Math.abs(s) >= Math.abs(part.s) ? s - t + part.s : part.s - t + s);
    s = t;
  }
  return Number.isFinite(s) ? s + c : s;
}

test('laneSum is Neumaier\'s sum when there is one element per lane or fewer (the reference is itself checked)', (t) => {
  const z = [1e16, 1, 1, 1].slice(0, LANES);
  t.is(laneSum(z), neumaierSum(z));
  t.is(laneSum([0.1, 0.2, 0.3]), neumaierSum([0.1, 0.2, 0.3]));
});

test('laneSum adds a lane\'s elements within a run plainly, and runs with compensation (the reference is itself checked)', (t) => {
  // Lane 0 of run 0 is 1e16 + 1 + 1 + 1 in plain float64: each 1 is half an ulp and rounds to even, so it is lost.
  const z = new Array<number>(2 * RUN_ELEMENTS).fill(0);
  z[0] = 1e16;
  for (let i = LANES; i < RUN_ELEMENTS; i += LANES) z[i] = 1;
  // Run 1 holds two more 1s in lane 0: its partial is 2, which compensation keeps.
  z[RUN_ELEMENTS] = 1;
  z[RUN_ELEMENTS + LANES] = 1;
  t.is(laneSum(z), 1e16 + 2);
});

testProp(
  'the block sum is the lane-wise compensated sum of the element losses, bit for bit',
  [fc.array(fc.tuple(fc.double(), fc.double()), { maxLength: 300, size: 'medium' }), params],
  (t, pairs, p) => {
    const { z, sum } = lossAll(
      pairs.map(([a]) => a),
      pairs.map(([, b]) => b),
      p,
    );
    const expected = pairs.map(([a, b]) => lossRef(a, b, p));
    t.true(
      z.every((x, i) => sameValue(x, expected[i]!)),
      'element losses',
    );
    t.true(sameValue(sum, laneSum(expected)), `${sum} vs ${laneSum(expected)}`);
  },
  { numRuns: 200 },
);

testProp(
  'huberElement and smoothL1Element are the reference formulas of d = a - b',
  [fc.double(), fc.double(), delta],
  (t, a, b, d) => {
    t.true(sameValue(huberElement(a - b, d), huberRef(a, b, d)));
    t.true(sameValue(smoothL1Element(a - b, d), smoothL1Ref(a, b, d)));
  },
  { numRuns: 200 },
);

testProp(
  'finishLanes folds lane sums and compensations like the reference',
  [
    fc.array(fc.double({ min: 0, max: 1e300, noNaN: true }), { minLength: LANES, maxLength: LANES }),
    fc.array(fc.double({ min: -1e-3, max: 1e-3, noNaN: true }), { minLength: LANES, maxLength: LANES }),
  ],
  (t, sums, comps) => {
    const want = foldLanes(sums.map((s, lane) => ({ s, c: comps[lane]! })));
    t.true(sameValue(finishLanes(Float64Array.from([...sums, ...comps])), want));
  },
  { numRuns: 150 },
);

/** Values spread over many magnitudes, so that a naive sum loses digits. */
const spread = fc
  .tuple(fc.double({ min: -1, max: 1, noNaN: true }), fc.integer({ min: -30, max: 30 }))
  .map(([m, e]) => m * 2 ** e);

testProp(
  'the block sum is as close to the exact sum as compensated runs of plain partials must be (a few ulp)',
  [fc.array(fc.tuple(spread, spread), { minLength: 1, maxLength: 600, size: 'large' }), params],
  (t, pairs, p) => {
    const { z, sum } = lossAll(
      pairs.map(([a]) => a),
      pairs.map(([, b]) => b),
      p,
    );
    t.true(closeToExactSum(sum, z, PARTIAL_ERROR), `${sum} vs exact ${fsum(z)}`);
  },
  { numRuns: 100 },
);

test('the block sum keeps digits a naive float64 sum loses', (t) => {
  // 1e16 then 4096 losses of 0.5: a naive sum stays at 1e16 (each 0.5 is below half an ulp).
  // The rest of the first run is zeros, so that no plain partial holds both 1e16 and a 0.5.
  const a = [Math.sqrt(2e16), ...new Array<number>(RUN_ELEMENTS - 1).fill(0), ...new Array<number>(4096).fill(1)];
  const b = new Array<number>(a.length).fill(0);
  const p = { delta: 1e9, huber: true };
  const { z, sum } = lossAll(a, b, p);
  let naive = 0;
  for (const x of z) naive += x;
  const exact = fsum(z);
  t.not(naive, exact, 'the case must defeat naive summation');
  t.is(sum, exact);
});

testProp(
  'offsets and the optional output array: z is written only at [zAt, zAt+n), and the sum does not depend on z',
  [
    fc.array(moderate, { minLength: 1, maxLength: 40 }),
    fc.array(moderate, { minLength: 1, maxLength: 40 }),
    fc.nat({ max: 20 }),
    fc.nat({ max: 20 }),
    fc.nat({ max: 10 }),
    params,
  ],
  (t, as, bs, aAt0, bAt0, zAt, p) => {
    const aAt = aAt0 % as.length;
    const bAt = bAt0 % bs.length;
    const n = Math.min(as.length - aAt, bs.length - bAt);
    const a = Float64Array.from(as);
    const b = Float64Array.from(bs);
    const z = new Float64Array(zAt + n + 3).fill(-7);
    const sum = specBlockSum(a, aAt, b, bAt, n, p, z, zAt);
    t.true(sameValue(specBlockSum(a, aAt, b, bAt, n, p, null, 0), sum));
    for (let i = 0; i < z.length; i++) {
      const inside = i >= zAt && i < zAt + n;
      const want = inside ? lossRef(as[aAt + i - zAt]!, bs[bAt + i - zAt]!, p) : -7;
      t.true(sameValue(z[i]!, want), `z[${i}]`);
    }
  },
  { numRuns: 150 },
);

test('specBlockSum of zero elements is 0 and writes nothing', (t) => {
  const z = Float64Array.of(9);
  t.is(specBlockSum(new Float64Array(0), 0, new Float64Array(0), 0, 0, { delta: 1, huber: true }, z, 0), 0);
  t.is(z[0], 9);
});

test('compensated adds the compensation only while the running sum is finite', (t) => {
  t.is(compensated(1, 2 ** -60), 1 + 2 ** -60);
  t.is(compensated(1e16, 1), 1e16 + 1);
  t.is(compensated(Infinity, NaN), Infinity);
  t.is(compensated(-Infinity, NaN), -Infinity);
  t.true(Number.isNaN(compensated(NaN, 0)));
});
